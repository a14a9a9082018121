"""One `fit` with the recipe callbacks and epoch timing."""

import functools
import os
import shutil
import tempfile

from kdl.training.callbacks import standard_callbacks
from kdl.training.multi_worker import fit_distributed
from kdl.training.multi_worker import is_chief
from kdl.training.multi_worker import is_multi_worker
from kdl.training.multi_worker import task_name
from kdl.training.timing import EpochTimer


def fit(
    model,
    directory,
    x,
    y=None,
    *,
    epochs,
    validation_data=None,
    callbacks=(),
    verbose=2,
    tensorboard=True,
    **fit_kwargs,
):
    """`model.fit` with `standard_callbacks(directory)` and an `EpochTimer`.

    Every recipe arm trains this way: resumable (`BackupAndRestore` below
    `directory`), logged (TensorBoard, `history.csv`), stopped on NaN, and
    timed per epoch without validation.

    Under a multi-worker `MultiWorkerMirroredStrategy` (the model made in
    its scope), where Keras's own `fit` fails, the same callbacks drive
    `kdl.training.fit_distributed`. Every worker runs this call with the
    same `directory` (a shared file system); only the chief writes there.
    The other workers log and back up to a temporary folder, deleted at
    the end, and start from a copy of the chief's backup, so a restarted
    cluster resumes from one state on every worker.

    Args:
        model: a compiled Keras model.
        directory: the arm's folder for backups and logs.
        x, y, epochs, validation_data, verbose, **fit_kwargs: for `fit`.
        callbacks: extra callbacks (e.g. `ReduceLROnPlateau`).
        tensorboard: whether to write TensorBoard logs (smoke runs may
            skip them).

    Returns:
        `(history, timer)`: the `History.history` dict and the `EpochTimer`
        (`timer.steady_seconds()` is the mean epoch time without the first).
    """
    timer = EpochTimer()
    # Only TensorFlow models have a strategy (JAX models train with fit).
    strategy = getattr(model, "distribute_strategy", None)
    multi_worker = strategy is not None and is_multi_worker(strategy)
    own_directory = directory
    if multi_worker and not is_chief(strategy):
        own_directory = tempfile.mkdtemp(prefix=f"kdl-{task_name(strategy)}-")
        # "backup" is the BackupAndRestore folder of standard_callbacks.
        chief_backup = os.path.join(directory, "backup")
        if os.path.isdir(chief_backup):
            shutil.copytree(chief_backup, os.path.join(own_directory, "backup"))
    all_callbacks = standard_callbacks(
        own_directory, tensorboard=tensorboard, extra=[*callbacks, timer]
    )
    train = (
        functools.partial(fit_distributed, model) if multi_worker else model.fit
    )
    try:
        history = train(
            x,
            y,
            epochs=epochs,
            validation_data=validation_data,
            callbacks=all_callbacks,
            verbose=verbose,
            **fit_kwargs,
        )
    finally:
        if own_directory != directory:
            shutil.rmtree(own_directory, ignore_errors=True)
    return history.history, timer
