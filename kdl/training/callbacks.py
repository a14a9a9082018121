"""The callbacks every recipe fit uses."""

import os

import keras

from kdl.training import multi_worker


def standard_callbacks(
    output_dir,
    resume=True,
    tensorboard=True,
    csv_log=True,
    terminate_on_nan=True,
    extra=(),
):
    """Returns the recipe callbacks, all writing below `output_dir`.

    - `BackupAndRestore` in `output_dir/backup` (if `resume`): a killed run
      restarts from the last finished epoch with the same weights and
      optimizer state; the backup is deleted when training completes.
    - `TensorBoard` logs in `output_dir/logs`.
    - `CSVLogger` to `output_dir/history.csv`, appending so a resumed run
      keeps the earlier epochs.
    - `TerminateOnNaN`.
    - then `extra` (e.g. `ReduceLROnPlateau`, `EarlyStopping`).

    The progress bar is Keras's own (`fit(verbose=...)`).

    In a multi-worker cluster (every worker runs the same program with the
    same `output_dir` on a shared file system) only the chief writes to
    `output_dir`; another worker's callbacks write to its temporary mirror
    (`kdl.training.multi_worker.local_path`), and its backup starts as a
    copy of the chief's, so a restarted cluster resumes from one state.
    """
    if not output_dir:
        raise ValueError(
            f"`output_dir` must be a non-empty path. Received: "
            f"output_dir={output_dir!r}"
        )
    callbacks = []
    if resume:
        callbacks.append(
            keras.callbacks.BackupAndRestore(
                multi_worker.worker_backup(output_dir),
                # Keras writes a backup in place: keep the previous one to
                # fall back on when a kill tears the new one.
                double_checkpoint=True,
                delete_checkpoint=True,
            )
        )
    output_dir = multi_worker.local_path(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    if tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(os.path.join(output_dir, "logs"))
        )
    if csv_log:
        callbacks.append(
            keras.callbacks.CSVLogger(
                os.path.join(output_dir, "history.csv"), append=resume
            )
        )
    if terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    callbacks.extend(extra)
    return callbacks
