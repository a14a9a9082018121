"""kdl.models.frechet: the Frechet distance against closed forms."""

import keras
import numpy as np

import kdl
from kdl.models.frechet import feature_frechet_distance
from kdl.models.frechet import feature_model
from kdl.models.frechet import frechet_distance
from kdl.models.frechet import gaussian_statistics
from tests.test_case import TestCase


def random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def reference(mean_a, cov_a, mean_b, cov_b):
    """Tr(A + B - 2 (A^1/2 B A^1/2)^1/2) + |dm|^2, by symmetric eigh only
    (the same trace as Tr (A B)^1/2: A B is similar to A^1/2 B A^1/2)."""

    def sqrt_psd(m):
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    root_a = sqrt_psd(cov_a)
    cross = np.trace(sqrt_psd(root_a @ cov_b @ root_a))
    diff = mean_a - mean_b
    return diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * cross


class FrechetDistanceTest(TestCase):
    def test_closed_forms(self):
        # 1-d: (m1 - m2)^2 + (s1 - s2)^2.
        self.assertAllClose(
            frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]), 9.0 + 1.0
        )
        # Diagonal (commuting) covariances: |dm|^2 + sum (sqrt a - sqrt b)^2.
        a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
        mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
        want = 1.0 + 4.0 + (1 - 3) ** 2 + (2 - 1) ** 2 + 0.0
        got = frechet_distance(mean_a, np.diag(a), mean_b, np.diag(b))
        self.assertAllClose(got, want, atol=1e-9)
        # Same Gaussian: 0. Scaled covariance c^2 S: (1 - c)^2 Tr S.
        rng = np.random.RandomState(0)
        cov, mean = random_spd(rng, 4), rng.normal(size=4)
        self.assertAllClose(
            frechet_distance(mean, cov, mean, cov), 0.0, atol=1e-8
        )
        self.assertAllClose(
            frechet_distance(mean, cov, mean, 9.0 * cov),
            4.0 * np.trace(cov),
            atol=1e-8,
        )

    def test_general_covariances_match_a_symmetric_reference(self):
        rng = np.random.RandomState(1)
        for d in (2, 5):
            stats_a = (rng.normal(size=d), random_spd(rng, d))
            stats_b = (rng.normal(size=d), random_spd(rng, d))
            got = frechet_distance(*stats_a, *stats_b)
            self.assertAllClose(got, reference(*stats_a, *stats_b), atol=1e-8)
            self.assertAllClose(
                got, frechet_distance(*stats_b, *stats_a), atol=1e-8
            )

    def test_singular_covariances(self):
        # Rank 1 in 2-d (e.g. fewer samples than features): still finite,
        # and the closed form of the commuting case.
        got = frechet_distance(
            np.zeros(2), np.diag([1.0, 0.0]), np.ones(2), np.diag([4.0, 0.0])
        )
        self.assertAllClose(got, 2.0 + 1.0, atol=1e-5)
        x = np.random.RandomState(2).normal(size=(3, 6))  # 3 samples, 6-d
        value = frechet_distance(
            *gaussian_statistics(x), *gaussian_statistics(x + 1.0)
        )
        self.assertAllClose(value, 6.0, atol=1e-3)

    def test_estimates_from_samples_approach_the_closed_form(self):
        rng = np.random.RandomState(3)
        cov_b = np.array([[2.0, 0.6], [0.6, 0.5]])
        a = rng.normal(size=(20000, 2))
        b = rng.multivariate_normal([1.0, -1.0], cov_b, size=20000)
        mean_a, cov_a = gaussian_statistics(a)
        self.assertAllClose(cov_a, np.cov(a.T), atol=1e-12)
        got = frechet_distance(mean_a, cov_a, *gaussian_statistics(b))
        want = reference(np.zeros(2), np.eye(2), np.array([1.0, -1.0]), cov_b)
        self.assertAllClose(got, want, atol=0.05)

    def test_features_of_images(self):
        rng = np.random.RandomState(4)
        x = rng.rand(40, 4, 4, 1).astype("float32")
        y = (rng.rand(40, 4, 4, 1) ** 2).astype("float32")
        classifier = keras.Sequential(
            [
                keras.Input((4, 4, 1)),
                keras.layers.Flatten(name="flat"),
                keras.layers.Dense(3, name="head"),
            ]
        )
        flat = feature_model(classifier, "flat")
        self.assertEqual(flat.output_shape, (None, 16))
        got = feature_frechet_distance(flat, x, y, batch_size=8)
        want = reference(
            *gaussian_statistics(x.reshape(40, -1)),
            *gaussian_statistics(y.reshape(40, -1)),
        )
        self.assertAllClose(got, want, atol=1e-4)
        self.assertIs(kdl.models.frechet_distance, frechet_distance)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "shapes"):
            frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
        with self.assertRaisesRegex(ValueError, "eps"):
            frechet_distance([0.0], [[1.0]], [0.0], [[1.0]], eps=-1.0)
        with self.assertRaisesRegex(ValueError, "features"):
            gaussian_statistics(np.zeros((1, 3)))
        with self.assertRaisesRegex(ValueError, "features"):
            gaussian_statistics(np.zeros(5))
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        with self.assertRaisesRegex(ValueError, "layer"):
            feature_model(model, "f6")
