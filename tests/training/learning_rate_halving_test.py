"""kdl.training.LearningRateHalving: Mikolov's halve-then-stop schedule."""

import keras
import numpy as np
import pytest

from kdl import training


class ScriptedValLoss(keras.callbacks.Callback):
    """Writes a scripted `val_loss` into the logs before the schedule."""

    def __init__(self, losses):
        super().__init__()
        self.losses = list(losses)

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.losses[epoch]


def _fit(losses, epochs=None, **kwargs):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    weights = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: weights.append(model.get_weights()[0])
    )
    halving = training.LearningRateHalving(**kwargs)
    x = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    history = model.fit(
        x,
        x.sum(1, keepdims=True),
        epochs=epochs or len(losses),
        verbose=0,
        callbacks=[record, ScriptedValLoss(losses), halving],
    )
    return model, halving, history, weights


def test_halves_after_the_first_stall_and_stops_at_the_second():
    # Gains: 20%, 10%, 0.1% (stall: halve from now on), 5%, 0.05% (stop).
    losses = [5.0, 4.0, 3.6, 3.5965, 3.42, 3.4183, 3.0, 2.0]
    model, halving, history, _ = _fit(losses)
    assert len(history.history["loss"]) == 6
    assert halving.halvings == 2 and halving.stopped_epoch == 5
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1 / 4)
    assert halving.best == pytest.approx(3.4183)
    assert halving.best_epoch == 5


def test_a_worse_epoch_is_reverted_and_the_best_weights_kept():
    losses = [5.0, 4.0, 4.5, 3.0]
    model, halving, _, weights = _fit(losses, max_halvings=5)
    # Epoch 3 was worse: its weights were replaced by epoch 2's before
    # epoch 4 trained on; the run ends with the best (last) epoch's.
    assert halving.halving and halving.best_epoch == 3
    np.testing.assert_allclose(model.get_weights()[0], weights[3])
    # Ending by the epoch budget also restores the best epoch.
    model, halving, _, weights = _fit([5.0, 3.0, 4.0], max_halvings=5)
    np.testing.assert_allclose(model.get_weights()[0], weights[1])
    assert not np.allclose(weights[1], weights[2])


def test_max_halvings_stops_and_non_finite_counts_as_a_stall():
    _, halving, history, _ = _fit([5.0, 4.9999, 4.0, 3.0, 2.0], max_halvings=1)
    assert halving.halvings == 1 and len(history.history["loss"]) == 3
    _, halving, history, _ = _fit([5.0, float("nan"), 4.0, float("nan")])
    assert halving.halving and halving.best == 4.0
    assert len(history.history["loss"]) == 4 and halving.stopped_epoch == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(min_improvement=1.0), "min_improvement=1.0"),
        (dict(factor=1.5), "factor=1.5"),
        (dict(factor=0), "factor=0"),
        (dict(max_halvings=-1), "max_halvings=-1"),
        (dict(monitor=""), "monitor=''"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        training.LearningRateHalving(**kwargs)


def test_missing_monitor_says_to_validate():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="fit with validation data"):
        model.fit(
            np.ones((4, 2)),
            np.ones((4, 1)),
            verbose=0,
            callbacks=[training.LearningRateHalving()],
        )
