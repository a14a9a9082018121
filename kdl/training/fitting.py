"""One `fit` with the recipe callbacks and epoch timing."""

from kdl.training.callbacks import standard_callbacks
from kdl.training.multi_worker import fit_model
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
    The other workers log and back up to their temporary folder, deleted
    when the process exits, and start from a copy of the chief's backup,
    so a restarted cluster resumes from one state on every worker
    (`standard_callbacks`).

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
    all_callbacks = standard_callbacks(
        directory, tensorboard=tensorboard, extra=[timer, *callbacks]
    )
    history = fit_model(
        model,
        x,
        y,
        epochs=epochs,
        validation_data=validation_data,
        callbacks=all_callbacks,
        verbose=verbose,
        **fit_kwargs,
    )
    return history.history, timer
