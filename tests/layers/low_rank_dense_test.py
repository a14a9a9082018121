"""LowRankDense: y = act(x U V + b) against NumPy, SVD compression."""

import keras
import numpy as np

from kdl.layers.low_rank_dense import LowRankDense
from tests.test_case import TestCase


class LowRankDenseTest(TestCase):
    def test_layer(self):
        self.run_layer_test(
            LowRankDense,
            {"units": 5, "rank": 2, "activation": "tanh"},
            np.random.rand(4, 7).astype("float32"),
            expected_output_shape=(4, 5),
            expected_num_trainable_weights=3,
            supports_masking=True,
        )

    def test_against_numpy(self):
        layer = LowRankDense(6, rank=3, activation="relu")
        x = np.random.randn(2, 4, 8).astype("float32")
        y = layer(x)
        u, v, b = layer.get_weights()
        self.assertEqual((u.shape, v.shape), ((8, 3), (3, 6)))
        self.assertAllClose(y, np.maximum(x @ u @ v + b, 0), atol=1e-5)
        self.assertAllClose(layer.kernel, u @ v, atol=1e-6)
        self.assertEqual(layer.count_params(), 8 * 3 + 3 * 6 + 6)
        self.assertEqual(len(LowRankDense(2, 1, use_bias=False)(x)), 2)

    def test_from_dense_is_the_truncated_svd(self):
        dense = keras.layers.Dense(6, activation="sigmoid")
        x = np.random.randn(3, 5).astype("float32")
        dense(x)
        full = LowRankDense.from_dense(dense, rank=5)
        self.assertAllClose(full(x), dense(x), atol=1e-5)
        low = LowRankDense.from_dense(dense, rank=2)
        w = np.asarray(dense.kernel, "float64")
        a, s, bt = np.linalg.svd(w, full_matrices=False)
        self.assertAllClose(low.kernel, (a[:, :2] * s[:2]) @ bt[:2], atol=1e-5)
        err = np.linalg.norm(np.asarray(low.kernel) - w)
        self.assertAllClose(err, np.sqrt((s[2:] ** 2).sum()), atol=1e-5)
        with self.assertRaisesRegex(ValueError, "rank"):
            LowRankDense.from_dense(dense, rank=6)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "units"):
            LowRankDense(0, 2)
        with self.assertRaisesRegex(ValueError, "rank"):
            LowRankDense(3, 0)
