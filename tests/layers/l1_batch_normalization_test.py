import keras
import numpy as np

from kdl.layers import L1BatchNormalization
from tests.layers.batch_norm_testing import local_values
from tests.layers.batch_norm_testing import two_replica_training_call
from tests.test_case import TestCase

EPS = 1e-3


def numpy_l1(x, axis=-1, mask=None, eps=EPS):
    """Hoffer et al. 2018: sigma = sqrt(pi / 2) * mean |x - mu|."""
    axis = axis % x.ndim
    reduce = tuple(i for i in range(x.ndim) if i != axis)
    x = x.astype("float64")
    if mask is None:
        w = np.ones_like(x)
    else:
        w = np.broadcast_to(np.expand_dims(mask, axis), x.shape).astype(float)
    n = w.sum(axis=reduce, keepdims=True)
    mu = (x * w).sum(axis=reduce, keepdims=True) / n
    sigma = (
        np.sqrt(np.pi / 2) * (np.abs(x - mu) * w).sum(reduce, keepdims=True) / n
    )
    return (x - mu) / (sigma + eps), mu.ravel(), sigma.ravel()


class L1BatchNormalizationTest(TestCase):
    def test_layer(self):
        x = np.random.RandomState(10).normal(size=(8, 5, 3)).astype("float32")
        self.run_layer_test(
            L1BatchNormalization,
            {"momentum": 0.9},
            x,
            expected_output_shape=(8, 5, 3),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=2,
            supports_masking=True,
        )

    def test_equals_numpy(self):
        rng = np.random.RandomState(1)
        x = rng.normal(2, 3, (6, 4, 5, 5)).astype("float32")
        layer = L1BatchNormalization(axis=1, momentum=0.25)
        want, mu, sigma = numpy_l1(x, axis=1)
        self.assertAllClose(layer(x, training=True), want, atol=1e-5)
        self.assertAllClose(layer.moving_mean, 0.75 * mu, atol=1e-5)
        self.assertAllClose(layer.moving_stddev, 0.25 + 0.75 * sigma, atol=1e-5)
        # For Gaussian data the L1 estimate is close to the std.
        big = rng.normal(0, 2, (20000, 2)).astype("float32")
        _, _, sigma = numpy_l1(big)
        self.assertAllClose(sigma, big.std(0), rtol=0.03)

    def test_mask_excludes_positions(self):
        rng = np.random.RandomState(2)
        x = rng.normal(size=(4, 6, 3)).astype("float32")
        mask = rng.uniform(size=(4, 6)) > 0.3
        x[~mask] = 1000.0
        layer = L1BatchNormalization(momentum=0.0)
        want, mu, sigma = numpy_l1(x, mask=mask)
        got = np.asarray(layer(x, training=True, mask=mask))
        np.testing.assert_allclose(got[mask], want[mask], atol=1e-4)
        self.assertAllClose(layer.moving_mean, mu, atol=1e-5)
        self.assertAllClose(layer.moving_stddev, sigma, atol=1e-5)

    def test_momentum_zero_inference_equals_training(self):
        x = np.random.RandomState(3).normal(3, 2, (8, 5)).astype("float32")
        layer = L1BatchNormalization(
            momentum=0.0, gamma_initializer="random_normal"
        )
        train = layer(x, training=True)
        self.assertAllClose(layer(x, training=False), train, atol=1e-5)

    def test_synchronized_equals_single_replica(self):
        rng = np.random.RandomState(4)
        x = rng.normal(size=(8, 3)).astype("float32")
        x[4:] += 4.0

        def make(sync):
            return lambda: L1BatchNormalization(momentum=0.0, synchronized=sync)

        single = make(False)()
        want = single(x, training=True)
        layer, got = two_replica_training_call(make(True), x)
        self.assertAllClose(got, want, atol=1e-5)
        for values in local_values(layer.moving_mean):
            self.assertAllClose(values, single.moving_mean, atol=1e-5)
        for values in local_values(layer.moving_stddev):
            self.assertAllClose(values, single.moving_stddev, atol=1e-5)

    def test_float32_statistics_under_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_float16")
        x = np.random.RandomState(5).normal(1000, 30, (64, 4))
        x16 = x.astype("float16")
        layer = L1BatchNormalization(momentum=0.0)
        out = layer(x16, training=True)
        self.assertEqual(out.dtype, "float16")
        want, mu, sigma = numpy_l1(x16.astype("float32"))
        self.assertAllClose(layer.moving_mean, mu, rtol=1e-6)
        self.assertAllClose(layer.moving_stddev, sigma, rtol=1e-4)
        self.assertAllClose(out, want, atol=1e-2)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "momentum"):
            L1BatchNormalization(momentum=2.0)
        with self.assertRaisesRegex(ValueError, "epsilon"):
            L1BatchNormalization(epsilon=-1.0)
        with self.assertRaisesRegex(ValueError, "axis"):
            L1BatchNormalization(axis="last")
        with self.assertRaisesRegex(ValueError, "axis"):
            L1BatchNormalization(axis=-4)(np.zeros((2, 3), "float32"))
