"""Compiling a logits classifier the way the image recipes train it."""

import keras


def compile_classifier(model, learning_rate=1e-3, jit_compile="auto"):
    """Adam, sparse categorical cross-entropy on logits, accuracy.

    Args:
        model: a Keras model whose outputs are class logits.
        learning_rate: Adam's learning rate (> 0).
        jit_compile: passed to `Model.compile`.

    Returns:
        `model`, compiled.
    """
    if isinstance(learning_rate, bool) or not float(learning_rate) > 0:
        raise ValueError(
            "`learning_rate` must be a number > 0. "
            f"Received: learning_rate={learning_rate!r}"
        )
    model.compile(
        optimizer=keras.optimizers.Adam(float(learning_rate)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model
