"""Training and scoring an image classifier the way the image recipes do."""

import numpy as np
import tensorflow as tf

from kdl import _validation
from kdl.datasets.images import image_dataset
from kdl.models.classifier import compile_classifier
from kdl.training.batch_loss import BatchLossRecorder
from kdl.training.fitting import fit
from kdl.training.multi_worker import evaluate_model


def train_classifier(
    model,
    directory,
    train,
    test,
    *,
    epochs,
    batch_size=32,
    learning_rate=1e-3,
    jit_compile="auto",
    seed=0,
    strategy=None,
    batch_loss_points=0,
    eval_batch_size=256,
    verbose=2,
):
    """Compiles, trains and scores a logits classifier of images.

    The model is compiled with `compile_classifier` (Adam, sparse
    cross-entropy on logits, accuracy) inside `strategy`'s scope, trained
    with `kdl.training.fit` (resumable, logged below `directory`, timed)
    on shuffled batches of `train`, validated on `test` every epoch, then
    evaluated on `test`. Under a `MultiWorkerMirroredStrategy` spanning
    several workers (where Keras's `fit` and `evaluate` fail) it trains and
    scores through `kdl.training.fit_distributed` / `evaluate_distributed`;
    every worker runs the same call and gets the same result.

    Args:
        model: an uncompiled Keras model from images to class logits
            (built in `strategy`'s scope).
        directory: the folder for its backups and logs.
        train, test: `(images, labels)` arrays; uint8 images are scaled to
            [0, 1] (`kdl.datasets.image_dataset`).
        epochs, batch_size, learning_rate, jit_compile: the training.
        seed: the seed of the shuffle.
        strategy: the `tf.distribute.Strategy` (default: the current one).
        batch_loss_points: when > 0, the mean training loss is also
            recorded about this many times per epoch
            (`kdl.training.BatchLossRecorder`).
        eval_batch_size: batch size of the test set.
        verbose: `fit` verbosity.

    Returns:
        A dict: `test_accuracy`, `test_loss`, `test_error` (1 - accuracy),
        `trainable_params`, `history` (the `History.history` dict),
        `seconds_per_epoch` (steady), `train_seconds` (all epochs); with
        `batch_loss_points`, also `batch_loss_steps` and `batch_loss`.

    Example:
        >>> model = kdl.models.build_lenet5((28, 28, 1), 10)
        >>> result = train_classifier(model, "out/lenet", (x, y),
        ...                           (x_test, y_test), epochs=2)
        >>> result["test_error"]
    """
    epochs = _validation.positive_integer("epochs", epochs)
    batch_size = _validation.positive_integer("batch_size", batch_size)
    batch_loss_points = _validation.non_negative_integer(
        "batch_loss_points", batch_loss_points
    )
    eval_batch_size = _validation.positive_integer(
        "eval_batch_size", eval_batch_size
    )
    with (strategy or tf.distribute.get_strategy()).scope():
        compile_classifier(model, learning_rate, jit_compile)
    train_ds = image_dataset(*train, batch_size, seed=seed)
    test_ds = image_dataset(*test, eval_batch_size, shuffle=False)
    callbacks = []
    if batch_loss_points:
        every = max(len(train_ds) // batch_loss_points, 1)
        callbacks.append(BatchLossRecorder(every))
    history, timer = fit(
        model,
        directory,
        train_ds,
        epochs=epochs,
        validation_data=test_ds,
        callbacks=callbacks,
        verbose=verbose,
    )
    scores = evaluate_model(model, test_ds)
    loss, accuracy = scores["loss"], scores["accuracy"]
    result = {
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "test_error": 1.0 - float(accuracy),
        "trainable_params": sum(
            int(np.prod(w.shape)) for w in model.trainable_weights
        ),
        "history": history,
        "seconds_per_epoch": timer.steady_seconds(),
        "train_seconds": sum(timer.seconds),
    }
    if batch_loss_points:
        result["batch_loss_steps"] = callbacks[0].steps
        result["batch_loss"] = callbacks[0].losses
    return result
