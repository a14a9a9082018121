"""kdl.training.callbacks: the callbacks every recipe fit uses."""

import keras
import numpy as np
import pytest

from kdl import training


def test_standard_callbacks(tmp_path):
    callbacks = training.standard_callbacks(str(tmp_path))
    kinds = {type(c).__name__ for c in callbacks}
    assert {
        "BackupAndRestore",
        "TensorBoard",
        "CSVLogger",
        "TerminateOnNaN",
    } <= kinds
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    model.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=callbacks)
    rows = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    assert (tmp_path / "logs").is_dir()
    with pytest.raises(ValueError, match="output_dir"):
        training.standard_callbacks("")


class _KillAfterEpoch(keras.callbacks.Callback):
    """Raises at the end of `epoch` (0-based), as a killed run would stop."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"killed after epoch {epoch + 1}")


def _model(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model


def test_an_interrupted_fit_resumes_where_it_stopped(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    fit = dict(x=x, y=y, batch_size=8, epochs=4, shuffle=False, verbose=0)

    whole = _model(seed=0)
    whole.fit(**fit, callbacks=training.standard_callbacks(tmp_path / "a"))

    run = tmp_path / "b"
    killed = _model(seed=0)
    with pytest.raises(RuntimeError, match="killed after epoch 2"):
        killed.fit(
            **fit,
            callbacks=training.standard_callbacks(
                run, extra=[_KillAfterEpoch(1)]
            ),
        )
    assert (run / "backup").is_dir()
    # A new process would build a fresh model (here other initial weights):
    # the backup restores weights, optimizer state and the epoch.
    resumed = _model(seed=1)
    history = resumed.fit(**fit, callbacks=training.standard_callbacks(run))
    assert history.epoch == [2, 3]
    assert int(resumed.optimizer.iterations) == 4 * 4
    for ours, reference in zip(resumed.weights, whole.weights):
        np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-7)
    assert not (run / "backup").exists()  # deleted once training completed
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "0", "1", "2", "3"]
