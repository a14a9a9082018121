"""BatchNormConvNetHyperModel: defaults = recipe defaults, overrides."""

import keras_tuner
import pytest

import kdl
from kdl.layers import BatchRenormalization
from kdl.layers import GhostBatchNormalization


def _norms(model):
    return [layer for layer in model.layers if layer.name.startswith("norm")]


def test_defaults_equal_recipe_defaults():
    hm = kdl.tuning.BatchNormConvNetHyperModel("ghost", total_steps=800)
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert hp.get("filters") == 16
    assert hp.get("learning_rate") == 1e-3
    assert hp.get("momentum") == 0.95
    assert hp.get("virtual_batch_size") == 16
    assert "rmax" not in hp.values
    norms = _norms(model)
    assert len(norms) == 3
    assert all(isinstance(n, GhostBatchNormalization) for n in norms)
    assert norms[0].virtual_batch_size == 16
    assert norms[0].momentum == 0.95
    assert model.get_layer("conv0").filters == 16


def test_renorm_defaults_and_schedule():
    hm = kdl.tuning.BatchNormConvNetHyperModel("renorm", total_steps=800)
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert hp.get("rmax") == 3.0
    assert hp.get("dmax") == 5.0
    layer = _norms(model)[0]
    assert isinstance(layer, BatchRenormalization)
    # The paper's 5k / 25k / 40k fractions of the run.
    assert (layer.warmup_steps, layer.dmax_steps, layer.rmax_steps) == (
        100,
        500,
        800,
    )


def test_fixed_overrides():
    hm = kdl.tuning.BatchNormConvNetHyperModel("renorm", total_steps=100)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("rmax", 2.0)
    hp.Fixed("filters", 8)
    hp.Fixed("momentum", 0.9)
    model = hm.build(hp)
    layer = _norms(model)[0]
    assert layer.rmax == 2.0 and layer.momentum == 0.9
    assert model.get_layer("conv0").filters == 8


def test_none_variant_has_no_normalization_and_keeps_biases():
    hp = keras_tuner.HyperParameters()
    model = kdl.tuning.BatchNormConvNetHyperModel("none").build(hp)
    assert not _norms(model)
    assert "momentum" not in hp.values
    assert model.get_layer("conv0").use_bias


def test_errors():
    with pytest.raises(ValueError, match="variant"):
        kdl.tuning.BatchNormConvNetHyperModel("batchnorm")
