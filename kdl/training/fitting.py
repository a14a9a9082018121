"""One `fit` with the recipe callbacks and epoch timing."""

from kdl.training.callbacks import standard_callbacks
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
    history = model.fit(
        x,
        y,
        epochs=epochs,
        validation_data=validation_data,
        callbacks=standard_callbacks(
            directory, tensorboard=tensorboard, extra=[*callbacks, timer]
        ),
        verbose=verbose,
        **fit_kwargs,
    )
    return history.history, timer
