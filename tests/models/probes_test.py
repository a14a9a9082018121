"""kdl.models.probes: linear_probe and fine_tune_accuracy."""

import keras
import numpy as np

import kdl
from tests.test_case import TestCase


def separable(n=300, dim=5, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, size=n).astype("int32")
    centers = np.eye(3, dim) * 5
    x = (centers[y] + rng.normal(size=(n, dim)) * 0.3).astype("float32")
    return x, y


def identity(dim=5):
    return keras.Sequential([keras.Input((dim,)), keras.layers.Identity()])


class LinearProbeTest(TestCase):
    def test_separable_features_are_probed_perfectly(self):
        x, y = separable()
        scores = kdl.models.linear_probe(
            identity(),
            x[:200],
            y[:200],
            x[200:],
            y[200:],
            epochs=20,
            batch_size=32,
        )
        self.assertEqual(set(scores), {"train_accuracy", "test_accuracy"})
        self.assertGreater(scores["test_accuracy"], 0.95)
        self.assertGreater(scores["train_accuracy"], 0.95)

    def test_random_labels_cannot_be_probed(self):
        x, _ = separable()
        rng = np.random.RandomState(1)
        scores = kdl.models.linear_probe(
            identity(),
            x[:200],
            rng.randint(0, 3, 200),
            x[200:],
            rng.randint(0, 3, 100),
            epochs=5,
        )
        self.assertLess(scores["test_accuracy"], 0.6)

    def test_encoder_is_unchanged(self):
        x, y = separable()
        encoder = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4)])
        before = [w.copy() for w in encoder.get_weights()]
        kdl.models.linear_probe(encoder, x, y, x, y, epochs=1)
        self.assertAllClose(encoder.get_weights(), before)


class FineTuneAccuracyTest(TestCase):
    def test_learns_and_leaves_the_backbone_unchanged(self):
        x, y = separable(n=400)
        backbone = keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(8, activation="relu")]
        )
        before = [w.copy() for w in backbone.get_weights()]
        accuracy = kdl.models.fine_tune_accuracy(
            backbone,
            x[:300],
            y[:300],
            x[300:],
            y[300:],
            epochs=20,
            batch_size=32,
            learning_rate=1e-2,
        )
        self.assertGreater(accuracy, 0.9)
        self.assertAllClose(backbone.get_weights(), before)

    def test_small_convnet_backbone(self):
        rng = np.random.RandomState(0)
        x = rng.rand(16, 28, 28, 1).astype("float32")
        y = rng.randint(0, 10, 16)
        backbone = kdl.models.small_convnet(width=2)
        accuracy = kdl.models.fine_tune_accuracy(
            backbone, x, y, x, y, epochs=1, num_classes=10
        )
        self.assertGreaterEqual(accuracy, 0.0)
        self.assertLessEqual(accuracy, 1.0)
