"""Tests for kdl.losses.NoiseAsTargets."""

import keras
import numpy as np

from kdl.losses import NoiseAsTargets
from tests.test_case import TestCase


def reference(targets, features, normalize=True):
    """1/(2b) sum_i |f_i/|f_i| - c_i|^2 (Bojanowski & Joulin 2017)."""
    f = features.astype("float64")
    if normalize:
        f = f / np.linalg.norm(f, axis=1, keepdims=True)
    return 0.5 * np.mean(np.sum((f - targets) ** 2, axis=1))


class NoiseAsTargetsTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.RandomState(0)
        c = rng.normal(size=(6, 5))
        self.targets = (c / np.linalg.norm(c, axis=1, keepdims=True)).astype(
            "float32"
        )
        self.features = rng.normal(size=(6, 5)).astype("float32") * 3

    def test_matches_reference(self):
        loss = NoiseAsTargets()(self.targets, self.features)
        self.assertAllClose(
            loss, reference(self.targets, self.features), atol=1e-6
        )

    def test_equals_one_minus_cosine(self):
        loss = NoiseAsTargets(reduction="none")(self.targets, self.features)
        f = self.features / np.linalg.norm(self.features, axis=1)[:, None]
        self.assertAllClose(
            loss, 1.0 - np.sum(f * self.targets, axis=1), atol=1e-6
        )

    def test_no_normalize(self):
        loss = NoiseAsTargets(normalize=False)(self.targets, self.features)
        self.assertAllClose(
            loss,
            reference(self.targets, self.features, normalize=False),
            rtol=1e-5,
        )

    def test_zero_at_targets_and_float16_inputs(self):
        loss = NoiseAsTargets()(self.targets, 2.0 * self.targets)
        self.assertAllClose(loss, 0.0, atol=1e-6)
        loss = NoiseAsTargets()(self.targets, self.features.astype("float16"))
        self.assertEqual(keras.backend.standardize_dtype(loss.dtype), "float32")
        self.assertAllClose(
            loss, reference(self.targets, self.features), atol=1e-3
        )

    def test_config_round_trip(self):
        loss = NoiseAsTargets(normalize=False, epsilon=1e-6, name="nat")
        config = loss.get_config()
        revived = NoiseAsTargets.from_config(config)
        self.assertEqual(revived.get_config(), config)
        blob = keras.saving.serialize_keras_object(loss)
        again = keras.saving.deserialize_keras_object(blob)
        self.assertIsInstance(again, NoiseAsTargets)
        self.assertFalse(again.normalize)

    def test_in_compile(self):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)])
        model.compile(optimizer="sgd", loss=NoiseAsTargets())
        history = model.fit(
            np.random.rand(6, 4), self.targets, epochs=2, verbose=0
        )
        self.assertTrue(np.isfinite(history.history["loss"][-1]))

    def test_bad_epsilon(self):
        with self.assertRaisesRegex(ValueError, "epsilon"):
            NoiseAsTargets(epsilon=-1.0)
