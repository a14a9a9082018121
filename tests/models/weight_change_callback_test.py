"""WeightChangeCallback records the distance the weight moved per epoch."""

import keras
import numpy as np

from kdl.models import WeightChangeCallback
from tests.test_case import TestCase


class WeightChangeCallbackTest(TestCase):
    def test_records_one_distance_per_epoch(self):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        kernel = model.layers[-1].kernel
        trace = WeightChangeCallback(kernel)
        x = np.ones((4, 3), "float32")
        before = np.asarray(kernel.numpy())
        snapshots = []

        class Snapshot(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                snapshots.append(np.asarray(kernel.numpy()))

        model.fit(
            x,
            np.zeros((4, 1)),
            epochs=3,
            verbose=0,
            callbacks=[trace, Snapshot()],
        )
        expected = [
            np.linalg.norm(b - a)
            for a, b in zip([before] + snapshots[:-1], snapshots)
        ]
        self.assertLen(trace.changes, 3)
        self.assertAllClose(trace.changes, expected, atol=1e-6)

    def test_a_frozen_weight_does_not_move(self):
        layer = keras.layers.Dense(2, trainable=False)
        model = keras.Sequential([keras.Input((2,)), layer])
        model.compile(optimizer="sgd", loss="mse")
        trace = WeightChangeCallback(layer.kernel)
        model.fit(
            np.ones((2, 2)),
            np.ones((2, 2)),
            epochs=2,
            verbose=0,
            callbacks=[trace],
        )
        self.assertEqual(trace.changes, [0.0, 0.0])

    def test_rejects_a_non_variable(self):
        with self.assertRaisesRegex(ValueError, "variable"):
            WeightChangeCallback("kernel")
