"""Lp pooling against a NumPy reference."""

import numpy as np

from kdl.layers import LpPooling2D
from tests.layers import pooling_testing
from tests.test_case import TestCase


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
                win = pooling_testing.np_windows(x, (3, 2), (2, 1))
                s = (np.abs(win) ** p).sum(3)
                if normalize:
                    s = s / 6.0
                self.assertAllClose(got, s ** (1 / p), atol=1e-5, rtol=1e-4)

    def test_same_padding_and_large_p_tends_to_max(self):
        x = np.random.rand(1, 5, 5, 2).astype("float32")
        got = LpPooling2D(2.0, 2, padding="same", epsilon=0)(x)
        self.assertEqual(tuple(got.shape), (1, 3, 3, 2))
        padded = np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)])
        ref = np.sqrt(
            (pooling_testing.np_windows(padded, (2, 2), (2, 2)) ** 2).sum(3)
        )
        self.assertAllClose(got, ref, atol=1e-5)
        big = LpPooling2D(64.0, 2, normalize=True, epsilon=0)(x)
        mx = pooling_testing.np_windows(x, (2, 2), (2, 2)).max(3)
        self.assertAllClose(big, mx, atol=0.03 * mx.max())

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "p"):
            LpPooling2D(p=0.5)
        with self.assertRaisesRegex(ValueError, "pool_size"):
            LpPooling2D(pool_size=0)
        with self.assertRaisesRegex(ValueError, "padding"):
            LpPooling2D(padding="full")
