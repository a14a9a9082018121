"""LeNetHyperModel: defaults = recipe defaults, overrides."""

import keras_tuner

from kdl.layers import LowRankDense
from kdl.layers import LpPooling2D
from kdl.tuning import LeNetHyperModel


def test_defaults_equal_recipe_defaults():
    hp = keras_tuner.HyperParameters()
    model = LeNetHyperModel((28, 28, 1), 10).build(hp)
    assert hp.get("pooling") == "max"
    assert hp.get("dense") == "dense"
    assert hp.get("activation") == "tanh"
    assert hp.get("learning_rate") == 1e-3
    assert model.get_layer("s2").__class__.__name__ == "MaxPooling2D"
    assert model.output_shape == (None, 10)


def test_fixed_overrides():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("pooling", "lp")
    hp.Fixed("dense", "low_rank")
    hp.Fixed("rank", 8)
    model = LeNetHyperModel((28, 28, 1), 3).build(hp)
    assert isinstance(model.get_layer("s4"), LpPooling2D)
    assert isinstance(model.get_layer("c5"), LowRankDense)
    assert model.get_layer("c5").rank == 8
