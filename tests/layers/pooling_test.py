"""Lp, stochastic and fractional max pooling against NumPy references."""

import keras
import numpy as np
import tensorflow as tf

from kdl.layers.pooling import FractionalMaxPooling2D
from kdl.layers.pooling import LpPooling2D
from kdl.layers.pooling import StochasticPooling2D
from tests.test_case import TestCase


def _np_windows(x, pool, stride):
    """(B, H', W', K, C) windows of a 'valid' pooling, in NumPy."""
    b, h, w, c = x.shape
    oh = (h - pool[0]) // stride[0] + 1
    ow = (w - pool[1]) // stride[1] + 1
    out = np.zeros((b, oh, ow, pool[0] * pool[1], c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = x[
                :,
                i * stride[0] : i * stride[0] + pool[0],
                j * stride[1] : j * stride[1] + pool[1],
            ]
            out[:, i, j] = patch.reshape(b, -1, c)
    return out


class LpPooling2DTest(TestCase):
    def test_layer(self):
        self.run_layer_test(
            LpPooling2D,
            {"p": 3.0, "pool_size": 2, "strides": 2, "padding": "valid"},
            np.random.rand(2, 6, 6, 3).astype("float32"),
            expected_output_shape=(2, 3, 3, 3),
            expected_num_trainable_weights=0,
        )

    def test_against_numpy(self):
        x = np.random.randn(2, 7, 7, 3).astype("float32")
        for p in (1.0, 2.0, 3.5):
            for normalize in (False, True):
                got = LpPooling2D(
                    p, (3, 2), strides=(2, 1), normalize=normalize, epsilon=0
                )(x)
                win = _np_windows(x, (3, 2), (2, 1))
                s = (np.abs(win) ** p).sum(3)
                if normalize:
                    s = s / 6.0
                self.assertAllClose(got, s ** (1 / p), atol=1e-5, rtol=1e-4)

    def test_same_padding_and_large_p_tends_to_max(self):
        x = np.random.rand(1, 5, 5, 2).astype("float32")
        got = LpPooling2D(2.0, 2, padding="same", epsilon=0)(x)
        self.assertEqual(tuple(got.shape), (1, 3, 3, 2))
        padded = np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)])
        ref = np.sqrt((_np_windows(padded, (2, 2), (2, 2)) ** 2).sum(3))
        self.assertAllClose(got, ref, atol=1e-5)
        big = LpPooling2D(64.0, 2, normalize=True, epsilon=0)(x)
        mx = _np_windows(x, (2, 2), (2, 2)).max(3)
        self.assertAllClose(big, mx, atol=0.03 * mx.max())

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "p"):
            LpPooling2D(p=0.5)
        with self.assertRaisesRegex(ValueError, "pool_size"):
            LpPooling2D(pool_size=0)
        with self.assertRaisesRegex(ValueError, "padding"):
            LpPooling2D(padding="full")


class StochasticPooling2DTest(TestCase):
    def test_layer(self):
        self.run_layer_test(
            StochasticPooling2D,
            {"pool_size": 2, "strides": 2, "padding": "valid", "seed": 3},
            np.random.rand(2, 6, 6, 3).astype("float32"),
            expected_output_shape=(2, 3, 3, 3),
            expected_num_trainable_weights=0,
        )

    def test_inference_is_probability_weighted_average(self):
        x = np.random.rand(2, 6, 7, 3).astype("float32")
        x[0, :3, :3, 0] = 0.0  # an all-zero window -> 0
        got = StochasticPooling2D((3, 3), strides=(3, 2))(x, training=False)
        win = _np_windows(x, (3, 3), (3, 2))
        s = win.sum(3)
        ref = np.where(s > 0, (win**2).sum(3) / np.where(s > 0, s, 1), 0)
        self.assertAllClose(got, ref, atol=1e-6)
        self.assertEqual(float(got[0, 0, 0, 0]), 0.0)

    def test_training_samples_in_proportion_to_activation(self):
        # One 2x2 window with activations (1, 2, 3, 4): value v is drawn with
        # probability v / 10. 4000 independent copies along the batch.
        x = np.tile(
            np.array([[1.0, 2.0], [3.0, 4.0]], "float32")[None, :, :, None],
            (4000, 1, 1, 1),
        )
        layer = StochasticPooling2D(2, seed=7)
        got = np.asarray(layer(x, training=True)).reshape(-1)
        self.assertTrue(set(np.unique(got)) <= {1.0, 2.0, 3.0, 4.0})
        freq = np.array([(got == v).mean() for v in (1, 2, 3, 4)])
        np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.03)
        # Gradient reaches only the sampled activation.
        xt = tf.constant(x[:3])
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt, training=True)
        g = tape.gradient(y, xt).numpy().reshape(3, 4)
        self.assertAllEqual(g.sum(1), np.ones(3))

    def test_negative_inputs_are_zero(self):
        x = -np.random.rand(1, 4, 4, 1).astype("float32")
        self.assertAllEqual(
            StochasticPooling2D(2)(x, training=True), np.zeros((1, 2, 2, 1))
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "strides"):
            StochasticPooling2D(2, strides=(1, 0))


class FractionalMaxPooling2DTest(TestCase):
    def test_layer(self):
        x = np.random.rand(2, 9, 9, 2).astype("float32")
        self.run_layer_test(
            FractionalMaxPooling2D,
            {"pooling_ratio": 1.5, "seed": 5},
            x,
            expected_output_shape=(2, 6, 6, 2),
            expected_num_trainable_weights=0,
            run_training_check=False,  # the op has no XLA kernel
            run_distribute_check=False,
        )

    def test_against_numpy_regions(self):
        x = np.random.rand(2, 11, 10, 3).astype("float32")
        for overlapping in (False, True):
            layer = FractionalMaxPooling2D(
                (1.6, 1.4), overlapping=overlapping, seed=11
            )
            out, rows, cols = layer.pool(x, training=False)
            rows, cols = np.asarray(rows), np.asarray(cols)
            self.assertEqual(out.shape, (2, 6, 7, 3))
            self.assertEqual((rows[0], rows[-1]), (0, 11))
            self.assertEqual((cols[0], cols[-1]), (0, 10))
            self.assertTrue(set(np.diff(rows)) <= {1, 2})
            self.assertTrue(set(np.diff(cols)) <= {1, 2})
            extra = 1 if overlapping else 0
            ref = np.zeros(out.shape, "float32")
            for i in range(len(rows) - 1):
                for j in range(len(cols) - 1):
                    r1 = min(rows[i + 1] + extra, 11)
                    c1 = min(cols[j + 1] + extra, 10)
                    win = x[:, rows[i] : r1, cols[j] : c1]
                    ref[:, i, j] = win.max(axis=(1, 2))
            self.assertAllClose(out, ref)
            # The layer's inference output uses the same fixed regions.
            self.assertAllClose(layer(x, training=False), ref)
            self.assertAllClose(layer(x), ref)

    def test_training_draws_new_regions_and_fits(self):
        x = np.random.rand(4, 16, 16, 1).astype("float32")
        layer = FractionalMaxPooling2D(1.414, pseudo_random=False, seed=2)
        draws = {
            np.asarray(layer(x, training=True)).tobytes() for _ in range(6)
        }
        self.assertGreater(len(draws), 1)
        model = keras.Sequential(
            [
                keras.Input((16, 16, 1)),
                keras.layers.Conv2D(2, 3, padding="same"),
                FractionalMaxPooling2D(1.414),
                keras.layers.Flatten(),
                keras.layers.Dense(1),
            ]
        )
        model.compile("sgd", "mse", jit_compile=False)
        before = model.layers[0].get_weights()[0].copy()
        model.fit(x, np.ones((4, 1)), epochs=1, verbose=0)
        self.assertFalse(
            np.array_equal(before, model.layers[0].get_weights()[0])
        )

    def test_mixed_precision_output_dtype(self):
        keras.config.set_dtype_policy("mixed_float16")
        layer = FractionalMaxPooling2D(2.0)
        y = layer(np.random.rand(1, 8, 8, 1).astype("float16"))
        self.assertEqual(keras.backend.standardize_dtype(y.dtype), "float16")

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "pooling_ratio"):
            FractionalMaxPooling2D(0.5)
        with self.assertRaisesRegex(ValueError, "seed"):
            FractionalMaxPooling2D(seed=0)
