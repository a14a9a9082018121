import keras_tuner

import kdl


def test_defaults_equal_recipe_defaults():
    hm = kdl.tuning.MLPHyperModel((64,), 10)
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert hp.get("layers") == 1
    assert hp.get("units") == 64
    assert hp.get("activation") == "relu"
    assert hp.get("initializer") == "glorot_uniform"
    assert hp.get("learning_rate") == 1e-3
    assert [layer.units for layer in model.layers[1:]] == [64, 10]


def test_fixed_overrides():
    hm = kdl.tuning.MLPHyperModel((64,), 10)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("layers", 2)
    hp.Fixed("units", 32)
    hp.Fixed("initializer", "fan_in_uniform")
    model = hm.build(hp)
    assert [layer.units for layer in model.layers[1:]] == [32, 32, 10]
    assert isinstance(
        model.layers[1].kernel_initializer, kdl.initializers.FanInUniform
    )
