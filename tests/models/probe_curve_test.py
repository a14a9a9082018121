"""kdl.models.ProbeCurve: probe points over a fit, saved and resumed."""

import json
import os

import keras
import numpy as np

import kdl
from tests.test_case import TestCase


def data(n=60, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, size=n).astype("int32")
    x = (rng.normal(size=(n, 4)) + 3 * y[:, None]).astype("float32")
    return x, y


def model_and_encoder():
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model = keras.Sequential([encoder, keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    return model, encoder


class ProbeCurveTest(TestCase):
    def test_points_every_k_epochs_and_at_the_end(self):
        x, y = data()
        model, encoder = model_and_encoder()
        path = os.path.join(self.get_temp_dir(), "curve.json")
        curve = kdl.models.ProbeCurve(
            encoder, (x, y, x, y), every=2, epochs=1, path=path, verbose=0
        )
        model.fit(x, x, epochs=3, callbacks=[curve], verbose=0)
        self.assertEqual(sorted(curve.points), [0, 2, 3])
        for value in curve.points.values():
            self.assertGreaterEqual(value, 0.0)
            self.assertLessEqual(value, 1.0)
        with open(path) as f:
            self.assertEqual(
                {int(k): v for k, v in json.load(f).items()}, curve.points
            )

    def test_resumed_fit_keeps_saved_points_fresh_fit_drops_them(self):
        x, y = data()
        path = os.path.join(self.get_temp_dir(), "curve.json")
        with open(path, "w") as f:
            json.dump({"0": 0.25, "1": 0.5}, f)
        model, encoder = model_and_encoder()
        curve = kdl.models.ProbeCurve(
            encoder, (x, y, x, y), every=1, epochs=1, path=path, verbose=0
        )
        self.assertEqual(curve.points, {0: 0.25, 1: 0.5})
        # Resumed at epoch 1 (as BackupAndRestore does): earlier points stay.
        model.fit(x, x, initial_epoch=1, epochs=2, callbacks=[curve], verbose=0)
        self.assertEqual(sorted(curve.points), [0, 1, 2])
        self.assertEqual(curve.points[0], 0.25)
        # A fresh fit from epoch 0 starts a new curve.
        curve = kdl.models.ProbeCurve(
            encoder, (x, y, x, y), every=5, epochs=1, path=path, verbose=0
        )
        model.fit(x, x, epochs=1, callbacks=[curve], verbose=0)
        self.assertEqual(sorted(curve.points), [0, 1])
        self.assertNotEqual(curve.points[0], 0.25)

    def test_errors(self):
        x, y = data()
        _, encoder = model_and_encoder()
        with self.assertRaisesRegex(ValueError, "every"):
            kdl.models.ProbeCurve(encoder, (x, y, x, y), every=0)
        with self.assertRaisesRegex(ValueError, "probe_data"):
            kdl.models.ProbeCurve(encoder, (x, y))
