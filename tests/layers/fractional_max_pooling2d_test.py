"""Fractional max pooling."""

import keras
import numpy as np
import pytest

from kdl.layers import FractionalMaxPooling2D
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow


@pytest.mark.skipif(backend() == "tensorflow", reason="the TF backend works")
class FractionalMaxPooling2DOtherBackendTest(TestCase):
    def test_construction_names_the_backend(self):
        with self.assertRaisesRegex(
            NotImplementedError,
            "FractionalMaxPooling2D needs the TensorFlow backend.*"
            f"the current backend is '{backend()}'",
        ):
            FractionalMaxPooling2D(1.5)


@skip_unless_tensorflow("tf.nn.fractional_max_pool has no keras.ops form")
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
