"""kdl.training.batch_loss: interval means from Keras's running means."""

import keras
import numpy as np
import pytest

from kdl import training


def test_interval_means_recover_the_per_batch_losses():
    recorder = training.BatchLossRecorder(every=1)
    losses = [[4.0, 2.0, 6.0], [1.0, 3.0, 2.0]]
    for epoch, epoch_losses in enumerate(losses):
        recorder.on_epoch_begin(epoch)
        for batch in range(len(epoch_losses)):
            running = float(np.mean(epoch_losses[: batch + 1]))
            recorder.on_train_batch_end(batch, {"loss": running})
    assert recorder.steps == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(recorder.losses, sum(losses, []))


def test_every_k_steps_averages_the_interval():
    recorder = training.BatchLossRecorder(every=2)
    epoch_losses = [4.0, 2.0, 6.0, 0.0]
    recorder.on_epoch_begin(0)
    for batch in range(4):
        running = float(np.mean(epoch_losses[: batch + 1]))
        recorder.on_train_batch_end(batch, {"loss": running})
    assert recorder.steps == [2, 4]
    np.testing.assert_allclose(recorder.losses, [3.0, 3.0])


def test_in_fit_and_errors():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((16, 3), "float32")
    recorder = training.BatchLossRecorder(every=3)
    model.fit(
        x, x[:, :1], batch_size=4, epochs=2, verbose=0, callbacks=[recorder]
    )
    assert recorder.steps == [3, 6]
    assert all(loss >= 0 for loss in recorder.losses)
    with pytest.raises(ValueError, match="every"):
        training.BatchLossRecorder(every=0)
