"""kdl.training.timing: seconds per epoch without validation."""

import keras
import numpy as np

from kdl import training


def test_epoch_timer_counts_each_epoch():
    timer = training.EpochTimer()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    model.fit(
        x,
        x[:, :1],
        epochs=3,
        verbose=0,
        validation_data=(x, x[:, :1]),
        callbacks=[timer],
    )
    assert len(timer.seconds) == 3 and min(timer.seconds) > 0
    assert timer.steady_seconds() == np.mean(timer.seconds[1:])
    assert training.EpochTimer().steady_seconds() is None
