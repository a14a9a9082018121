"""visualize_classifier: class-model images and a deep dream in one grid."""

import keras
import numpy as np

import kdl
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow


def _classifier():
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )


class VisualizeClassifierTest(TestCase):
    @skip_unless_tensorflow("kdl.attacks uses tf.GradientTape")
    def test_draws_the_grid_and_returns_the_dream_objective(self):
        path = f"{self.get_temp_dir()}/viz.png"
        image = np.random.RandomState(0).uniform(size=(6, 6, 1))
        objective = kdl.models.visualize_classifier(
            _classifier(), 3, image, ["conv"], path, steps=3
        )
        self.assertLen(objective, 2)
        self.assertGreaterEqual(objective[1], objective[0])
        with open(path, "rb") as f:
            self.assertEqual(f.read(4), b"\x89PNG")

    def test_errors(self):
        image = np.zeros((6, 6, 1))
        for bad in (0, 2.5):
            with self.assertRaisesRegex(ValueError, "steps"):
                kdl.models.visualize_classifier(
                    _classifier(), 3, image, ["conv"], "x.png", steps=bad
                )
        with self.assertRaisesRegex(ValueError, "layer_names"):
            kdl.models.visualize_classifier(
                _classifier(), 3, image, [], "x.png", steps=1
            )
        if backend() != "tensorflow":
            with self.assertRaisesRegex(NotImplementedError, backend()):
                kdl.models.visualize_classifier(
                    _classifier(), 3, image, ["conv"], "x.png", steps=1
                )
