import keras_tuner

from kdl.tuning.pretraining import DeepClassifierHyperModel


def test_defaults_equal_recipe_defaults():
    hp = keras_tuner.HyperParameters()
    model = DeepClassifierHyperModel(784, 10).build(hp)
    assert hp.get("layers") == 3
    assert hp.get("units") == 500
    assert hp.get("learning_rate") == 0.05
    assert [layer.units for layer in model.layers] == [500, 500, 500, 10]
    assert abs(float(model.optimizer.learning_rate) - 0.05) < 1e-7


def test_fixed_overrides():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("layers", 1)
    hp.Fixed("units", 200)
    model = DeepClassifierHyperModel(64, 3).build(hp)
    assert [layer.units for layer in model.layers] == [200, 3]
