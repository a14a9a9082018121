import os

import keras
import numpy as np

import kdl
from tests import test_case


def _blobs(separable, n=120, seed=0):
    rng = np.random.RandomState(seed)
    y = (rng.uniform(size=n) < 0.5).astype("float32")
    shift = 3.0 if separable else 0.5
    x = rng.normal(size=(n, 2)).astype("float32") + (2 * y[:, None] - 1) * shift
    return x, y


class PerceptronTest(test_case.TestCase):
    def test_rule_matches_numpy(self):
        x, y = _blobs(separable=False, n=16)
        model = kdl.models.Perceptron(learning_rate=0.5)
        model.compile()
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        w, b = np.zeros((2, 1)), np.zeros(1)
        mistakes = 0
        for _ in range(2):
            for i in range(0, 16, 4):
                xb, yb = x[i : i + 4], y[i : i + 4, None]
                y_hat = (xb @ w + b > 0).astype("float64")
                mistakes += np.abs(yb - y_hat).sum()
                w += 0.5 * xb.T @ (yb - y_hat)
                b += 0.5 * (yb - y_hat).sum(0)
        self.assertAllClose(model.kernel, w, atol=1e-5)
        self.assertAllClose(model.bias, b, atol=1e-5)

    def test_separable_reaches_zero_mistakes(self):
        x, y = _blobs(separable=True)
        model = kdl.models.Perceptron()
        model.compile()
        history = model.fit(x, y, batch_size=1, epochs=10, verbose=0)
        self.assertEqual(history.history["mistakes"][-1], 0)
        self.assertEqual(model.evaluate(x, y, verbose=0)[0], 0)

    def test_non_separable_never_settles(self):
        x, y = _blobs(separable=False)
        model = kdl.models.Perceptron()
        model.compile()
        history = model.fit(x, y, batch_size=1, epochs=10, verbose=0)
        self.assertGreater(min(history.history["mistakes"]), 0)

    def test_save_load_and_config(self):
        x, y = _blobs(separable=True, n=20)
        model = kdl.models.Perceptron(learning_rate=2.0)
        model.compile()
        model.fit(x, y, batch_size=5, epochs=1, verbose=0)
        path = os.path.join(self.get_temp_dir(), "p.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertEqual(loaded.learning_rate, 2.0)
        self.assertAllClose(
            loaded.predict(x, verbose=0), model.predict(x, verbose=0)
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "learning_rate"):
            kdl.models.Perceptron(learning_rate=0)
        with self.assertRaisesRegex(ValueError, "input_shape"):
            kdl.models.Perceptron().build((2, 3, 4))
