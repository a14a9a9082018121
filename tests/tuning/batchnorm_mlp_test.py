"""BatchNormMLPHyperModel: defaults = recipe defaults, overrides, errors."""

import keras_tuner
import pytest

import kdl
from kdl.layers import GhostBatchNormalization


def _norms(model):
    return [layer for layer in model.layers if layer.name.startswith("norm")]


def test_defaults_equal_recipe_defaults():
    hm = kdl.tuning.BatchNormMLPHyperModel("ghost", depth=2)
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert hp.get("units") == 100
    assert hp.get("learning_rate") == 1e-3
    assert hp.get("momentum") == 0.99
    assert hp.get("virtual_batch_size") == 32
    norms = _norms(model)
    assert len(norms) == 2
    assert all(isinstance(n, GhostBatchNormalization) for n in norms)
    assert norms[0].virtual_batch_size == 32 and norms[0].momentum == 0.99
    assert model.get_layer("dense1").units == 100
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-3)


def test_fixed_overrides_and_variant_hyperparameters():
    hm = kdl.tuning.BatchNormMLPHyperModel("renorm", depth=1)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("units", 50)
    hp.Fixed("momentum", 0.9)
    model = hm.build(hp)
    assert "virtual_batch_size" not in hp.values
    (layer,) = _norms(model)
    assert layer.momentum == 0.9
    assert model.get_layer("dense0").units == 50
    none = keras_tuner.HyperParameters()
    model = kdl.tuning.BatchNormMLPHyperModel("none").build(none)
    assert "momentum" not in none.values and not _norms(model)


def test_errors():
    with pytest.raises(ValueError, match="variant"):
        kdl.tuning.BatchNormMLPHyperModel("batchnorm")
    with pytest.raises(ValueError, match="depth"):
        kdl.tuning.BatchNormMLPHyperModel("bn", depth=0)
