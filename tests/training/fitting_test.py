"""kdl.training.fitting: fit with the recipe callbacks and timing."""

import keras
import numpy as np

from kdl import training


def test_fit_logs_times_and_resumes(tmp_path):
    x = np.random.RandomState(0).normal(size=(16, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    seen = []
    history, timer = training.fit(
        model,
        str(tmp_path),
        x,
        y,
        epochs=3,
        validation_data=(x, y),
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda e, logs: seen.append(e)
            )
        ],
        verbose=0,
    )
    assert len(history["val_loss"]) == 3 and seen == [0, 1, 2]
    assert len(timer.seconds) == 3
    rows = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 4


def test_fit_without_tensorboard(tmp_path):
    x = np.ones((4, 2), "float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    history, _ = training.fit(
        model, str(tmp_path), x, x[:, :1], epochs=1, tensorboard=False
    )
    assert len(history["loss"]) == 1
    assert not (tmp_path / "logs").exists()
    assert (tmp_path / "history.csv").exists()
