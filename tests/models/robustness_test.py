"""deepfool_robustness: DeepFool's rho of a classifier and its image grid."""

import keras
import numpy as np

import kdl
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow


def _linear_classifier():
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    kernel = np.zeros((16, 2), "float32")
    kernel[:8, 0] = kernel[8:, 1] = 1.0
    model.layers[-1].set_weights([kernel, np.zeros(2, "float32")])
    return model


class DeepFoolRobustnessTest(TestCase):
    @skip_unless_tensorflow("kdl.attacks.deepfool uses tf.GradientTape")
    def test_summary_matches_the_attack_and_draws_a_grid(self):
        x = np.random.RandomState(0).uniform(0.2, 0.8, (6, 4, 4, 1))
        model, path = _linear_classifier(), f"{self.get_temp_dir()}/df.png"
        summary = kdl.models.deepfool_robustness(model, x, path, shown=3)
        found = kdl.attacks.deepfool(
            model, x.astype("float32"), clip_min=0.0, clip_max=1.0
        )
        self.assertEqual(summary["examples"], 6)
        self.assertAllClose(summary["fooled_fraction"], found.fooled.mean())
        self.assertAllClose(
            summary["rho_all"],
            kdl.attacks.robustness(x, found.perturbation),
            atol=1e-5,
        )
        self.assertAllClose(summary["mean_iterations"], found.iterations.mean())
        self.assertGreater(summary["rho_all"], 0.0)
        with open(path, "rb") as f:
            self.assertEqual(f.read(4), b"\x89PNG")

    @skip_unless_tensorflow("kdl.attacks.deepfool uses tf.GradientTape")
    def test_without_a_grid(self):
        x = np.full((2, 4, 4, 1), 0.5, "float32")
        x[0, :2] = 0.9  # class 0 ahead
        summary = kdl.models.deepfool_robustness(_linear_classifier(), x)
        self.assertEqual(summary["examples"], 2)

    def test_errors(self):
        for bad in (0, 1.5, True):
            with self.assertRaisesRegex(ValueError, "shown"):
                kdl.models.deepfool_robustness(
                    _linear_classifier(), np.zeros((1, 4, 4, 1)), shown=bad
                )
        if backend() != "tensorflow":
            with self.assertRaisesRegex(NotImplementedError, backend()):
                kdl.models.deepfool_robustness(
                    _linear_classifier(), np.zeros((1, 4, 4, 1))
                )
