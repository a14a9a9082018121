"""The private base of the batch-norm variants, through a plain subclass."""

import keras
import numpy as np
from keras import ops

from kdl.layers._batch_norm_base import BatchNormBase
from kdl.layers._batch_norm_base import replica_sum
from tests.layers.batch_norm_testing import TF_DISTRIBUTE
from tests.layers.batch_norm_testing import local_values
from tests.layers.batch_norm_testing import two_replica_training_call
from tests.test_case import TestCase
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy


class PlainBatchNorm(BatchNormBase):
    """Plain batch norm written with the base's helpers only."""

    def build_statistics(self, shape):
        self.moving_mean = self._stat_weight(
            "moving_mean", shape, self.moving_mean_initializer
        )
        self.moving_variance = self._stat_weight(
            "moving_variance", shape, self.moving_variance_initializer
        )

    def call(self, inputs, training=None, mask=None):
        x = self._upcast(inputs)
        mean, variance = self._moments(x, self._mask_weights(x, mask))
        self._update(self.moving_mean, mean)
        self._update(self.moving_variance, variance)
        y = (x - self._broadcast(mean)) * ops.rsqrt(
            self._broadcast(variance) + self.epsilon
        )
        gamma, beta = self._gamma_beta(x.dtype)
        if gamma is not None:
            y = y * self._broadcast(gamma)
        if beta is not None:
            y = y + self._broadcast(beta)
        return ops.cast(y, self.compute_dtype)


def numpy_moments(x, axis=-1, mask=None):
    axis = axis % x.ndim
    reduce = tuple(i for i in range(x.ndim) if i != axis)
    x = x.astype("float64")
    w = np.ones_like(x)
    if mask is not None:
        w = np.broadcast_to(np.expand_dims(mask, axis), x.shape).astype(float)
    n = w.sum(reduce)
    mean = (x * w).sum(reduce) / n
    centered = x - np.expand_dims(mean, reduce)
    return mean, (centered**2 * w).sum(reduce) / n


class ReplicaSumTest(TestCase):
    def test_identity_outside_a_strategy(self):
        a = ops.convert_to_tensor([1.0, 2.0])
        b = ops.convert_to_tensor(3.0)
        got = replica_sum([a, b])
        self.assertIs(got[0], a)
        self.assertIs(got[1], b)

    @skip_unless_tensorflow(TF_DISTRIBUTE)
    def test_sums_over_two_replicas(self):
        import tensorflow as tf

        strategy = two_replica_strategy()

        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            i = tf.cast(ctx.replica_id_in_sync_group, "float32")
            return replica_sum([tf.stack([i, 1.0]), 10.0 * (i + 1.0)])

        out = strategy.run(tf.function(replica_fn))
        for part in strategy.experimental_local_results(out[0]):
            self.assertAllClose(part, np.array([1.0, 2.0]))  # 0 + 1, 1 + 1
        for part in strategy.experimental_local_results(out[1]):
            self.assertAllClose(part, 30.0)


class BatchNormBaseTest(TestCase):
    def test_weights(self):
        layer = PlainBatchNorm(axis=1)
        layer.build((None, 3, 5))
        self.assertEqual(
            [w.name for w in layer.trainable_weights], ["gamma", "beta"]
        )
        self.assertEqual(
            [w.name for w in layer.non_trainable_weights],
            ["moving_mean", "moving_variance"],
        )
        for w in layer.weights:
            self.assertEqual(tuple(w.shape), (3,))
        self.assertEqual(layer.compute_output_shape((2, 3, 5)), (2, 3, 5))
        bare = PlainBatchNorm(center=False, scale=False)
        bare.build((None, 4))
        self.assertEqual(bare.trainable_weights, [])
        self.assertIsNone(bare.gamma)
        self.assertIsNone(bare.beta)

    def test_statistics_stay_float32_under_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_float16")
        layer = PlainBatchNorm(momentum=0.0)
        x = np.random.RandomState(0).normal(600, 20, (8, 3))
        out = layer(x.astype("float16"), training=True)
        self.assertEqual(out.dtype, "float16")
        for w in layer.weights:
            self.assertEqual(w.dtype, "float32", w.name)
        mean, variance = numpy_moments(x.astype("float16").astype("float32"))
        self.assertAllClose(layer.moving_mean, mean, rtol=1e-6)
        self.assertAllClose(layer.moving_variance, variance, rtol=1e-4)

    def test_moments_equal_numpy(self):
        rng = np.random.RandomState(1)
        x = rng.normal(2, 3, (6, 4, 5)).astype("float32")
        mask = rng.uniform(size=(6, 5)) > 0.4
        for axis, m in ((-1, None), (1, None), (1, mask)):
            # momentum 0: the moving statistics are the batch moments.
            layer = PlainBatchNorm(axis=axis, momentum=0.0)
            got = np.asarray(layer(x, training=True, mask=m))
            mean, variance = numpy_moments(x, axis, m)
            self.assertAllClose(
                layer.moving_mean, mean, atol=1e-5, msg=str(axis)
            )
            self.assertAllClose(
                layer.moving_variance, variance, atol=1e-4, msg=str(axis)
            )
            shape = [1, 1, 1]
            shape[axis] = -1
            want = (x - mean.reshape(shape)) / np.sqrt(
                variance.reshape(shape) + 1e-3
            )
            keep = np.ones(x.shape, bool)
            if m is not None:
                keep = np.broadcast_to(np.expand_dims(m, axis), x.shape)
            np.testing.assert_allclose(got[keep], want[keep], atol=1e-4)

    def test_moving_average_update(self):
        x = np.random.RandomState(2).normal(1, 2, (10, 3)).astype("float32")
        layer = PlainBatchNorm(momentum=0.75)
        layer(x, training=True)
        mean, variance = numpy_moments(x)
        self.assertAllClose(layer.moving_mean, 0.25 * mean, atol=1e-6)
        self.assertAllClose(
            layer.moving_variance, 0.75 + 0.25 * variance, atol=1e-5
        )

    def test_synchronized_without_replicas_is_unsynchronized(self):
        # One device (and every backend without tf.distribute): the
        # cross-replica sums are the identity.
        rng = np.random.RandomState(4)
        x = rng.normal(size=(8, 2, 3)).astype("float32")
        mask = rng.uniform(size=(8, 2)) > 0.3
        outputs = []
        for synchronized in (False, True):
            layer = PlainBatchNorm(momentum=0.0, synchronized=synchronized)
            outputs.append(layer(x, training=True, mask=mask))
            outputs.append(layer.moving_variance)
        self.assertAllClose(outputs[:2], outputs[2:], atol=1e-6)

    @skip_unless_tensorflow(TF_DISTRIBUTE)
    def test_synchronized_moments_are_the_global_batch(self):
        rng = np.random.RandomState(3)
        x = rng.normal(size=(8, 2, 3)).astype("float32")
        x[4:] = x[4:] * 3 + 5  # the replicas see different data
        mask = rng.uniform(size=(8, 2)) > 0.3

        def make():
            return PlainBatchNorm(momentum=0.0, synchronized=True)

        layer, got = two_replica_training_call(make, x, mask=mask)
        mean, variance = numpy_moments(x, mask=mask)
        for values in local_values(layer.moving_mean):
            self.assertAllClose(values, mean, atol=1e-5)
        for values in local_values(layer.moving_variance):
            self.assertAllClose(values, variance, atol=1e-4)
        want = (x - mean) / np.sqrt(variance + 1e-3)
        np.testing.assert_allclose(got[mask], want[mask], atol=1e-4)

    def test_config_round_trip(self):
        layer = PlainBatchNorm(
            axis=1,
            momentum=0.5,
            epsilon=1e-2,
            center=False,
            gamma_initializer="random_normal",
            gamma_regularizer="l2",
            beta_constraint="non_neg",
            synchronized=True,
        )
        config = layer.get_config()
        self.assertEqual(config["axis"], 1)
        self.assertEqual(config["momentum"], 0.5)
        self.assertFalse(config["center"])
        revived = PlainBatchNorm.from_config(config)
        self.assertEqual(revived.get_config(), config)
        self.assertIsInstance(revived.gamma_regularizer, keras.regularizers.L2)
        self.assertIsInstance(revived.beta_constraint, keras.constraints.NonNeg)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "Received: axis=True"):
            PlainBatchNorm(axis=True)
        with self.assertRaisesRegex(ValueError, "Received: momentum=-1"):
            PlainBatchNorm(momentum=-1)
        with self.assertRaisesRegex(ValueError, "Received: epsilon=0"):
            PlainBatchNorm(epsilon=0)
        with self.assertRaisesRegex(ValueError, "Received: synchronized=1"):
            PlainBatchNorm(synchronized=1)
        with self.assertRaisesRegex(ValueError, "axis=2"):
            PlainBatchNorm(axis=2).build((None, 3))
        with self.assertRaisesRegex(ValueError, "known size"):
            PlainBatchNorm().build((None, None))
        with self.assertRaisesRegex(ValueError, "mask.shape"):
            PlainBatchNorm()(
                np.zeros((2, 3), "float32"), mask=np.ones((2, 3), bool)
            )
