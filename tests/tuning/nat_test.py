"""Tests for kdl.tuning.nat.NATHyperModel: defaults, Fixed overrides, fit."""

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from kdl.models import NAT
from kdl.tuning import nat as nat_tuning
from tests.recipes import recipe_testing
from tests.test_case import TestCase


def probe_data(n=64, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.rand(n, 28, 28, 1).astype("float32")
    y = rng.randint(0, 3, size=n).astype("int32")
    return x, y


class NATHyperModelTest(TestCase):
    def test_defaults_equal_recipe_defaults(self):
        values = recipe_testing.flags_for(recipe_testing.load_recipe("nat"))
        recipe = {
            "width": values.backbone_width,
            "feature_dim": values.feature_dim,
            "optimizer": values.nat_optimizer,
            "learning_rate": values.nat_learning_rate,
            "reassign_every": values.reassign_every,
        }
        self.assertEqual(recipe, nat_tuning.DEFAULTS)
        x, y = probe_data()
        hypermodel = nat_tuning.NATHyperModel(64, (x, y, x, y))
        hp = keras_tuner.HyperParameters()
        model = hypermodel.build(hp)
        self.assertIsInstance(model, NAT)
        for name, value in nat_tuning.DEFAULTS.items():
            self.assertEqual(hp.get(name), value, name)
        self.assertEqual(model.feature_dim, nat_tuning.DEFAULTS["feature_dim"])
        self.assertEqual(
            model.reassign_every, nat_tuning.DEFAULTS["reassign_every"]
        )
        self.assertEqual(model.backbone.output_shape[-1], 4 * hp.get("width"))
        self.assertAlmostEqual(
            float(model.optimizer.learning_rate.numpy()),
            nat_tuning.DEFAULTS["learning_rate"],
            places=7,
        )

    def test_fixed_overrides_and_fit_scores_probe(self):
        x, y = probe_data()
        hypermodel = nat_tuning.NATHyperModel(64, (x, y, x, y), probe_epochs=1)
        hp = keras_tuner.HyperParameters()
        hp.Fixed("width", 4)
        hp.Fixed("feature_dim", 8)
        hp.Fixed("reassign_every", 1)
        hp.Fixed("optimizer", "adam")
        model = hypermodel.build(hp)
        self.assertEqual(model.feature_dim, 8)
        self.assertEqual(model.reassign_every, 1)
        self.assertIsInstance(model.optimizer, keras.optimizers.Adam)
        self.assertEqual(model.backbone.output_shape[-1], 16)
        ds = tf.data.Dataset.from_tensor_slices(
            (np.arange(64, dtype="int32"), x)
        ).batch(32)
        scores = hypermodel.fit(hp, model, ds, epochs=1, verbose=0)
        self.assertEqual(set(scores), {"probe_accuracy"})
        self.assertGreaterEqual(scores["probe_accuracy"], 0.0)
        self.assertLessEqual(scores["probe_accuracy"], 1.0)
