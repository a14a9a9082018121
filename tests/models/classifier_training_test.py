"""train_classifier: compile, fit with the recipe callbacks, score."""

import keras
import numpy as np

import kdl
from tests import test_case
from tests.test_case import TestCase


def _images(n, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, n)
    x = rng.randint(0, 40, (n, 8, 8)).astype("uint8")
    x[np.arange(n), y * 2, :] = 255  # a learnable stripe per class
    return x, y


def _model():
    return keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )


class TrainClassifierTest(TestCase):
    def test_trains_scores_and_logs(self):
        directory = self.get_temp_dir()
        result = kdl.models.train_classifier(
            _model(),
            directory,
            _images(64),
            _images(32, 1),
            epochs=2,
            batch_size=8,
            learning_rate=0.05,
            batch_loss_points=4,
            verbose=0,
        )
        self.assertAllClose(result["test_error"], 1 - result["test_accuracy"])
        self.assertGreater(result["test_accuracy"], 0.5)
        self.assertEqual(result["trainable_params"], 64 * 3 + 3)
        self.assertLen(result["history"]["val_accuracy"], 2)
        self.assertLen(result["batch_loss"], 8)  # 8 steps/epoch, every 2
        self.assertEqual(result["batch_loss_steps"][-1], 16)
        self.assertGreater(result["train_seconds"], 0)
        with open(f"{directory}/history.csv") as f:
            self.assertLen(f.read().strip().splitlines(), 3)

    @test_case.skip_unless_tensorflow("tf.distribute.MirroredStrategy")
    def test_under_a_strategy_without_batch_loss(self):
        strategy = test_case.two_replica_strategy()
        with strategy.scope():
            model = _model()
        result = kdl.models.train_classifier(
            model,
            self.get_temp_dir(),
            _images(32),
            _images(16, 1),
            epochs=1,
            batch_size=8,
            strategy=strategy,
            verbose=0,
        )
        self.assertNotIn("batch_loss", result)
        self.assertTrue(0.0 <= result["test_accuracy"] <= 1.0)

    def test_errors(self):
        for name, value in (
            ("epochs", 0),
            ("batch_size", 2.5),
            ("batch_loss_points", -1),
            ("eval_batch_size", True),
        ):
            kwargs = {"epochs": 1, name: value}
            with self.assertRaisesRegex(ValueError, name):
                kdl.models.train_classifier(
                    _model(),
                    self.get_temp_dir(),
                    _images(8),
                    _images(8),
                    **kwargs,
                )
