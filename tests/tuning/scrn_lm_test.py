import keras
import keras_tuner
import numpy as np

import kdl
from kdl.tuning.scrn_lm import DEFAULTS
from tests.recipes import recipe_testing


def _hypermodel(**kwargs):
    ids = np.arange(400, dtype="int32") % 11
    return kdl.tuning.SCRNLanguageModelHyperModel(
        ids, ids, 11, batch_size=2, **kwargs
    )


def test_defaults_equal_recipe_defaults():
    recipe = recipe_testing.load_recipe("scrn_lm")
    flags_obj = recipe_testing.flags_for(recipe)
    assert DEFAULTS == dict(
        units=flags_obj.units,
        context_units=flags_obj.context_units,
        alpha=flags_obj.alpha,
        learning_rate=flags_obj.learning_rate,
        bptt=flags_obj.bptt,
        clipnorm=flags_obj.clipnorm,
    )
    hm = _hypermodel()
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    for name, value in DEFAULTS.items():
        if name != "bptt":
            assert hp.get(name) == value, name
    assert model.units == 100 and model.context_units == 40
    assert model.alpha == 0.95 and model.rnn_type == "scrn"
    assert model.optimizer.clipnorm == 1.0
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.embedding_dim == 100  # None: the trial's units


def test_fixed_overrides_and_fit():
    hm = _hypermodel(max_steps=3, optimizer="sgd", embedding_dim=5)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("units", 8)
    hp.Fixed("context_units", 3)
    hp.Fixed("alpha", 0.5)
    hp.Fixed("learning_rate", 0.01)
    hp.Fixed("clipnorm", 2.0)
    hp.Fixed("bptt", 5)
    model = hm.build(hp)
    assert (model.units, model.context_units, model.alpha) == (8, 3, 0.5)
    assert model.optimizer.clipnorm == 2.0
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.embedding_dim == 5
    history = hm.fit(hp, model, epochs=1, verbose=0)
    assert "val_loss" in history.history
    assert hp.get("bptt") == 5
