"""Training a classifier for a number of steps on any `tf.data` stream."""

import keras
import numpy as np
import tensorflow as tf

from kdl import _validation
from kdl.datasets.images import image_dataset
from kdl.training.fitting import fit
from kdl.training.multi_worker import evaluate_model


def train_for_steps(
    model,
    directory,
    train,
    test,
    *,
    steps,
    eval_every,
    learning_rate=1e-3,
    jit_compile="auto",
    steps_per_execution=1,
    strategy=None,
    eval_batch_size=1000,
    verbose=2,
):
    """Trains a logits image classifier `steps` steps of a batch stream.

    Unlike `train_classifier` (epochs of i.i.d. batches of arrays), the
    batches are whatever `train` yields (e.g. non-i.i.d. ones from
    `kdl.datasets.class_grouped_batches`, or large batches for as many steps
    as small ones take), repeated as needed. The model is compiled with
    Adam, sparse cross-entropy on logits and accuracy, trained with
    `kdl.training.fit` (resumable, logged below `directory`, timed) in
    `steps // eval_every` Keras epochs of `eval_every` steps, each followed
    by an evaluation on `test` (Keras's validation), then scored on `test`.

    Args:
        model: an uncompiled Keras model from images to class logits (built
            in `strategy`'s scope).
        directory: the folder for its backups and logs.
        train: a `tf.data.Dataset` of `(images, labels)` batches.
        test: `(images, labels)` arrays; uint8 images are scaled to [0, 1]
            (`kdl.datasets.image_dataset`).
        steps: training steps (a multiple of `eval_every` is run: rounded
            down, at least one `eval_every`).
        eval_every: training steps between evaluations on `test`.
        learning_rate: Adam's learning rate.
        jit_compile: passed to `Model.compile`.
        steps_per_execution: the most training steps per graph call
            (several cut the per-step overhead of tiny batches); lowered to
            a divisor of `eval_every`, since Keras runs whole executions
            and every round must be exactly `eval_every` steps; 1 under a
            strategy of several replicas (Keras 3.15's multi-step
            `tf.while_loop` fails there with "You must feed a value for
            placeholder tensor").
        strategy: the `tf.distribute.Strategy` (default: the current one).
        eval_batch_size: batch size of the test set.
        verbose: `fit` verbosity.

    Returns:
        A dict: `steps` (the step of each evaluation), `val_accuracy` (on
        `test` at those steps), `train_loss` (mean over each `eval_every`
        steps), `test_accuracy`, `test_loss`, `seconds_per_step` (without
        evaluation; the first round, with tracing, left out when there
        are more) and `train_seconds`.

    Example:
        >>> train = kdl.datasets.class_grouped_batches(x, y, 32, 2, epochs=5)
        >>> result = train_for_steps(model, "out/arm", train, (x_test, y_test),
        ...                          steps=1000, eval_every=100)
    """
    steps = _validation.positive_integer("steps", steps)
    eval_every = _validation.positive_integer("eval_every", eval_every)
    learning_rate = _validation.positive_number("learning_rate", learning_rate)
    steps_per_execution = _validation.positive_integer(
        "steps_per_execution", steps_per_execution
    )
    if not isinstance(train, tf.data.Dataset):
        raise ValueError(
            "`train` must be a tf.data.Dataset of (images, labels) batches. "
            f"Received: train={train!r}"
        )
    strategy = strategy or tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync > 1:
        steps_per_execution = 1  # Keras's multi-step loop fails there
    with strategy.scope():
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=jit_compile,
            steps_per_execution=max(  # a divisor: rounds of eval_every
                d
                for d in range(1, min(steps_per_execution, eval_every) + 1)
                if eval_every % d == 0
            ),
        )
    test_ds = image_dataset(*test, eval_batch_size, shuffle=False)
    rounds = max(steps // eval_every, 1)
    history, timer = fit(
        model,
        directory,
        train.repeat(),
        epochs=rounds,
        steps_per_epoch=eval_every,
        validation_data=test_ds,
        verbose=verbose,
    )
    scores = evaluate_model(model, test_ds)  # also under several workers
    loss, accuracy = scores["loss"], scores["accuracy"]
    steady = timer.steady_seconds()
    return {
        "steps": [eval_every * (i + 1) for i in range(rounds)],
        "val_accuracy": [float(a) for a in history["val_accuracy"]],
        "train_loss": [float(a) for a in history["loss"]],
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "trainable_params": sum(
            int(np.prod(w.shape)) for w in model.trainable_weights
        ),
        "seconds_per_step": None if steady is None else steady / eval_every,
        "train_seconds": sum(timer.seconds),
    }
