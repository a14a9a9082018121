"""GLOHyperModel: defaults equal the recipe's flags; Fixed overrides."""

import keras_tuner

import kdl
from kdl.tuning.glo import DEFAULTS
from tests.recipes import recipe_testing
from tests.test_case import TestCase


def recipe_defaults():
    values = recipe_testing.flags_for(recipe_testing.load_recipe("glo"))
    return {
        "latent_dim": values.latent_dim,
        "filters": values.filters,
        "learning_rate": values.learning_rate,
        "code_learning_rate": values.code_learning_rate,
        "loss": values.losses[0],
    }


class GLOHyperModelTest(TestCase):
    def test_defaults_equal_recipe_defaults(self):
        self.assertEqual(DEFAULTS, recipe_defaults())
        hm = kdl.tuning.GLOHyperModel(num_examples=30)
        hp = keras_tuner.HyperParameters()
        model = hm.build(hp)
        for name, value in DEFAULTS.items():
            self.assertEqual(hp.get(name), value, name)
        self.assertIsInstance(model, kdl.models.GLO)
        self.assertEqual(model.latent_dim, DEFAULTS["latent_dim"])
        self.assertIsInstance(model.loss, kdl.losses.LaplacianPyramidLoss)
        self.assertAllClose(
            model.code_optimizer.learning_rate, DEFAULTS["code_learning_rate"]
        )

    def test_fixed_overrides(self):
        hm = kdl.tuning.GLOHyperModel(num_examples=30, image_shape=(8, 8, 1))
        hp = keras_tuner.HyperParameters()
        hp.Fixed("latent_dim", 16)
        hp.Fixed("loss", "l2")
        hp.Fixed("code_learning_rate", 0.1)
        model = hm.build(hp)
        self.assertEqual(model.latent_dim, 16)
        self.assertEqual(model.generator.output_shape, (None, 8, 8, 1))
        self.assertNotIsInstance(model.loss, kdl.losses.LaplacianPyramidLoss)
        self.assertAllClose(model.code_optimizer.learning_rate, 0.1)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "loss"):
            kdl.tuning.GLOHyperModel(num_examples=3, loss="l3")
