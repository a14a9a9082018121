"""Training a classifier for a number of steps, validated every few steps:
convergence curves and the steps to reach an accuracy."""

import keras
import numpy as np
import tensorflow as tf

from kdl import _validation
from kdl.training.fitting import fit
from kdl.training.multi_worker import evaluate_model


def steps_to_reach(steps, values, threshold):
    """The first step whose value is >= `threshold`, or None.

    Args:
        steps: the training step of each value, increasing.
        values: e.g. validation accuracies (None entries never count).
        threshold: the level to reach.

    Example:
        >>> steps_to_reach([100, 200, 300], [0.5, 0.82, 0.9], 0.8)
        200
    """
    for step, value in zip(steps, values):
        if value is not None and value >= threshold:
            return int(step)
    return None


def train_step_curve(
    model,
    directory,
    train,
    valid,
    test,
    *,
    steps,
    eval_every,
    batch_size=64,
    learning_rate=1e-3,
    clipnorm=1.0,
    jit_compile="auto",
    seed=0,
    strategy=None,
    verbose=2,
    callbacks=(),
):
    """Trains a logits classifier `steps` steps, validating every few steps.

    The model is compiled with Adam (`learning_rate`, gradients clipped to
    norm `clipnorm`), sparse cross-entropy on logits and accuracy, then
    trained with `kdl.training.fit` on shuffled, repeated batches of
    `train`, in `steps // eval_every` Keras epochs of `eval_every` steps:
    Keras validates on `valid` at the end of each, so the validation
    accuracy is recorded every `eval_every` training steps. Then scored on
    `test`.

    Args:
        model: an uncompiled Keras model from inputs to class logits (built
            in `strategy`'s scope).
        directory: the folder for its backups and logs.
        train, valid, test: `(inputs, labels)` arrays.
        steps: training steps (a multiple of `eval_every` is run: rounded
            down, at least one `eval_every`).
        eval_every: training steps between validations.
        batch_size, learning_rate, clipnorm, jit_compile: the training.
        seed: the seed of the shuffle.
        strategy: the `tf.distribute.Strategy` (default: the current one).
        verbose: `fit` verbosity.
        callbacks: extra Keras callbacks for `fit` and for the test
            evaluation (e.g. `kdl.models.PopulationStatistics`, which
            re-estimates batch-norm statistics before each evaluation).

    Returns:
        A dict: `steps` (the step of each validation), `val_accuracy`,
        `val_loss`, `train_loss` (mean over each `eval_every` steps),
        `test_accuracy`, `test_loss`, `trainable_params`,
        `seconds_per_step` (steady, without validation) and
        `train_seconds`.
    """
    steps = _validation.positive_integer("steps", steps)
    eval_every = _validation.positive_integer("eval_every", eval_every)
    batch_size = _validation.positive_integer("batch_size", batch_size)
    with (strategy or tf.distribute.get_strategy()).scope():
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=jit_compile,
        )
    train_ds = (
        tf.data.Dataset.from_tensor_slices(tuple(train))
        .shuffle(len(train[0]), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    valid_ds, test_ds = (
        tf.data.Dataset.from_tensor_slices(tuple(d)).batch(256)
        for d in (valid, test)
    )
    rounds = max(steps // eval_every, 1)
    history, timer = fit(
        model,
        directory,
        train_ds,
        epochs=rounds,
        steps_per_epoch=eval_every,
        validation_data=valid_ds,
        shuffle=False,  # train_ds is shuffled
        verbose=verbose,
        callbacks=list(callbacks),
    )
    # Also under several workers.
    scores = evaluate_model(model, test_ds, callbacks=list(callbacks))
    loss, accuracy = scores["loss"], scores["accuracy"]
    steady = timer.steady_seconds()
    return {
        "steps": [eval_every * (i + 1) for i in range(rounds)],
        "val_accuracy": [float(a) for a in history["val_accuracy"]],
        "val_loss": [float(a) for a in history["val_loss"]],
        "train_loss": [float(a) for a in history["loss"]],
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "trainable_params": sum(
            int(np.prod(w.shape)) for w in model.trainable_weights
        ),
        "seconds_per_step": None if steady is None else steady / eval_every,
        "train_seconds": sum(timer.seconds),
    }
