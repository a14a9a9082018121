"""DeepFool against the closed form of affine classifiers; activation ascent."""

import keras
import numpy as np

from kdl import attacks
from tests.test_case import TestCase


def _affine(num_features=5, num_classes=4, seed=0):
    rng = np.random.RandomState(seed)
    model = keras.Sequential(
        [keras.Input((num_features,)), keras.layers.Dense(num_classes)]
    )
    w, b = rng.randn(num_features, num_classes), rng.randn(num_classes)
    model.layers[0].set_weights([w, b])
    return model, w, b


class DeepFoolTest(TestCase):
    def test_affine_classifier_gets_the_exact_minimal_perturbation(self):
        # For an affine classifier the distance to the decision boundary is
        # min_k |f_k - f_k0| / ||w_k - w_k0||: DeepFool reaches it in one
        # step (plus the overshoot and the 1e-4 margin).
        model, w, b = _affine()
        x = np.random.RandomState(1).randn(32, 5).astype("float32")
        result = attacks.deepfool(model, x, overshoot=0.02, batch_size=10)
        f = x @ w + b
        k0 = f.argmax(1)
        self.assertAllEqual(result.original_label, k0)
        dist = []
        for i in range(len(x)):
            ratios = [
                abs(f[i, k] - f[i, k0[i]])
                / np.linalg.norm(w[:, k] - w[:, k0[i]])
                for k in range(4)
                if k != k0[i]
            ]
            dist.append(min(ratios))
        norms = np.linalg.norm(result.perturbation, axis=1)
        np.testing.assert_allclose(
            norms, 1.02 * np.array(dist), rtol=1e-3, atol=1e-3
        )
        self.assertTrue(result.fooled.all())
        self.assertTrue((result.iterations == 1).all())
        self.assertAllEqual(
            result.adversarial_label,
            (result.adversarial @ w + b).argmax(1),
        )
        rho = attacks.robustness(x, result.perturbation)
        self.assertAllClose(
            rho, np.mean(norms / np.linalg.norm(x, axis=1)), atol=1e-6
        )

    def test_nonlinear_classifier_is_fooled_with_small_perturbations(self):
        model = keras.Sequential(
            [
                keras.Input((6, 6, 1)),
                keras.layers.Conv2D(4, 3, activation="tanh"),
                keras.layers.Flatten(),
                keras.layers.Dense(3),
            ]
        )
        x = np.random.rand(8, 6, 6, 1).astype("float32")
        result = attacks.deepfool(model, x, max_iter=50)
        self.assertTrue(result.fooled.all())
        self.assertEqual(result.adversarial.shape, x.shape)
        self.assertLess(attacks.robustness(x, result.perturbation), 1.0)
        clipped = attacks.deepfool(model, x, clip_min=0.0, clip_max=1.0)
        self.assertGreaterEqual(clipped.adversarial.min(), 0.0)
        self.assertLessEqual(clipped.adversarial.max(), 1.0)
        self.assertGreater(clipped.fooled.mean(), 0.5)

    def test_errors(self):
        model, _, _ = _affine()
        with self.assertRaisesRegex(ValueError, "overshoot"):
            attacks.deepfool(model, np.zeros((1, 5)), overshoot=-1)
        with self.assertRaisesRegex(ValueError, "max_iter"):
            attacks.deepfool(model, np.zeros((1, 5)), max_iter=0)


class ActivationMaximizationTest(TestCase):
    def test_class_logit_ascent_follows_the_weights(self):
        model, w, _ = _affine()
        x0 = np.full((1, 5), 0.5, "float32")
        x, history = attacks.activation_maximization(
            model,
            x0,
            unit=2,
            steps=20,
            step_size=0.05,
            l2_decay=0.0,
            clip_min=None,
            clip_max=None,
        )
        self.assertEqual(len(history), 21)
        self.assertTrue(np.all(np.diff(history) > 0))
        # Sign ascent direction: the change is along sign(w_2).
        self.assertAllEqual(np.sign(x[0] - x0[0]), np.sign(w[:, 2]))

    def test_layer_unit_and_deep_dream(self):
        inputs = keras.Input((8, 8, 1))
        h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
        out = keras.layers.Dense(2)(keras.layers.Flatten()(h))
        model = keras.Model(inputs, out)
        noise = np.random.rand(2, 8, 8, 1).astype("float32")
        x, history = attacks.activation_maximization(
            model, noise, layer_name="conv", unit=1, steps=10
        )
        self.assertGreater(history[-1], history[0])
        self.assertTrue(0.0 <= x.min() and x.max() <= 1.0)
        dream, hist = attacks.deep_dream(model, noise, ["conv"], steps=5)
        self.assertEqual(dream.shape, noise.shape)
        self.assertGreater(hist[-1], hist[0])
        with self.assertRaisesRegex(ValueError, "layer_names"):
            attacks.deep_dream(model, noise, [])
        with self.assertRaisesRegex(ValueError, "steps"):
            attacks.activation_maximization(model, noise, steps=0)

    def test_class_images_one_per_class_in_the_box(self):
        inputs = keras.Input((6, 6, 1))
        out = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
        model = keras.Model(inputs, out)
        images = attacks.class_images(model, 3, steps=5, seed=1)
        self.assertEqual(images.shape, (3, 6, 6, 1))
        self.assertTrue(0.0 <= images.min() and images.max() <= 1.0)
        # Each image excites its own class more than the others do.
        logits = np.asarray(model(images))
        self.assertAllEqual(np.argmax(logits, axis=0), [0, 1, 2])
        again = attacks.class_images(model, 3, steps=5, seed=1)
        self.assertAllClose(images, again)
        with self.assertRaisesRegex(ValueError, "num_classes"):
            attacks.class_images(model, 0)
