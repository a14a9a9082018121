"""kdl.training.distribute: strategies by name."""

import keras
import numpy as np
import pytest

from kdl import training
from tests import test_case


def test_get_strategy():
    assert training.get_strategy("auto").num_replicas_in_sync == 1
    assert training.get_strategy("one_device").num_replicas_in_sync == 1
    # conftest.py makes 2 logical CPUs.
    assert training.get_strategy("mirrored").num_replicas_in_sync == 2
    with pytest.raises(ValueError, match="strategy='bogus'"):
        training.get_strategy("bogus")


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        training.get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        training.get_strategy("multi_worker")


def test_two_replica_strategy_fit():
    strategy = test_case.two_replica_strategy()
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    history = model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# The recipe harness's multi-worker set-up on two loopback workers:
# tests/training/multi_worker_test.py::test_multi_worker_setup_on_loopback
# (with the other loopback tests, which share one TensorFlow import).
