"""Compiling a logits classifier the way the image recipes train it."""

import keras

from kdl import _validation


def compile_classifier(model, learning_rate=1e-3, jit_compile="auto"):
    """Adam, sparse categorical cross-entropy on logits, accuracy.

    Args:
        model: a Keras model whose outputs are class logits.
        learning_rate: Adam's learning rate (> 0).
        jit_compile: passed to `Model.compile`.

    Returns:
        `model`, compiled.
    """
    learning_rate = _validation.positive_number("learning_rate", learning_rate)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model
