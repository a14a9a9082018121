import keras
import numpy as np
import tensorflow as tf

from kdl.layers import GhostBatchNormalization
from tests.layers.batch_norm_testing import local_values
from tests.layers.batch_norm_testing import two_replica_training_call
from tests.test_case import TestCase

EPS = 1e-3


def numpy_ghost(x, v, axis=-1, mask=None, eps=EPS):
    """Per-chunk batch norm from the paper: chunks of v along axis 0."""
    axis = axis % x.ndim
    reduce = tuple(i for i in range(x.ndim) if i != axis)
    out = np.empty_like(x, dtype="float64")
    means, variances, counts = [], [], []
    for start in range(0, len(x), v):
        chunk = x[start : start + v].astype("float64")
        if mask is None:
            w = np.ones_like(chunk)
        else:
            w = np.broadcast_to(
                np.expand_dims(mask[start : start + v], axis), chunk.shape
            ).astype("float64")
        n = w.sum(axis=reduce, keepdims=True)
        mean = (chunk * w).sum(axis=reduce, keepdims=True) / n
        var = (((chunk - mean) ** 2) * w).sum(axis=reduce, keepdims=True) / n
        out[start : start + v] = (chunk - mean) / np.sqrt(var + eps)
        means.append(mean.ravel())
        variances.append(var.ravel())
        counts.append(n.ravel()[0])
    counts = np.array(counts)[:, None]
    moving_mean = (np.array(means) * counts).sum(0) / counts.sum()
    moving_var = (np.array(variances) * counts).sum(0) / counts.sum()
    return out, moving_mean, moving_var


class GhostBatchNormalizationTest(TestCase):
    def test_layer(self):
        x = np.random.RandomState(0).normal(size=(8, 5, 3)).astype("float32")
        self.run_layer_test(
            GhostBatchNormalization,
            {"virtual_batch_size": 4, "momentum": 0.9},
            x,
            expected_output_shape=(8, 5, 3),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=2,
            supports_masking=True,
        )

    def test_virtual_batch_equal_to_batch_is_keras_bn(self):
        x = np.random.RandomState(1).normal(2, 3, (12, 4, 5)).astype("float32")
        ghost = GhostBatchNormalization(12, momentum=0.8)
        bn = keras.layers.BatchNormalization(momentum=0.8)
        for _ in range(3):
            self.assertAllClose(
                ghost(x, training=True), bn(x, training=True), atol=1e-5
            )
        self.assertAllClose(ghost.moving_mean, bn.moving_mean, atol=1e-6)
        self.assertAllClose(
            ghost.moving_variance, bn.moving_variance, atol=1e-5
        )
        self.assertAllClose(ghost(x), bn(x), atol=1e-5)

    def test_statistics_per_chunk_equal_numpy(self):
        rng = np.random.RandomState(2)
        x = rng.normal(size=(16, 3, 2)).astype("float32")
        x[8:] = x[8:] * 5 + 10  # chunks with very different statistics
        layer = GhostBatchNormalization(4, momentum=0.0)
        want, mean, var = numpy_ghost(x, 4)
        self.assertAllClose(layer(x, training=True), want, atol=1e-5)
        self.assertAllClose(layer.moving_mean, mean, atol=1e-5)
        self.assertAllClose(layer.moving_variance, var, atol=1e-4)
        # Not the whole-batch statistics.
        whole, _, _ = numpy_ghost(x, 16)
        self.assertGreater(
            np.abs(np.asarray(layer(x, training=True)) - whole).max(), 1
        )

    def test_uneven_batch_channels_first_and_dynamic_shape(self):
        rng = np.random.RandomState(3)
        x = rng.normal(1, 2, size=(10, 3, 4, 4)).astype("float32")
        layer = GhostBatchNormalization(4, axis=1, momentum=0.0)
        want, mean, var = numpy_ghost(x, 4, axis=1)
        self.assertAllClose(layer(x, training=True), want, atol=1e-5)
        self.assertAllClose(layer.moving_mean, mean, atol=1e-5)
        self.assertAllClose(layer.moving_variance, var, atol=1e-4)
        # Unknown batch size in a graph.
        fn = tf.function(
            lambda t: layer(t, training=True),
            input_signature=[tf.TensorSpec((None, 3, 4, 4))],
        )
        self.assertAllClose(fn(x), want, atol=1e-5)
        fn_xla = tf.function(
            lambda t: layer(t, training=True), jit_compile=True
        )
        self.assertAllClose(fn_xla(x), want, atol=1e-5)

    def test_mask_excludes_positions(self):
        rng = np.random.RandomState(4)
        x = rng.normal(size=(8, 6, 3)).astype("float32")
        mask = rng.uniform(size=(8, 6)) > 0.3
        x[~mask] = 1000.0  # would dominate the statistics if counted
        layer = GhostBatchNormalization(4, momentum=0.0)
        want, mean, var = numpy_ghost(x, 4, mask=mask)
        got = np.asarray(layer(x, training=True, mask=mask))
        np.testing.assert_allclose(got[mask], want[mask], atol=1e-4)
        self.assertAllClose(layer.moving_mean, mean, atol=1e-4)
        self.assertAllClose(layer.moving_variance, var, atol=1e-3)

    def test_inference_uses_moving_statistics_not_ghost_batches(self):
        rng = np.random.RandomState(5)
        x = rng.normal(size=(64, 4)).astype("float32") * 3 + 1
        inputs = keras.Input((4,))
        model = keras.Model(
            inputs, GhostBatchNormalization(8, momentum=0.5)(inputs)
        )
        model.compile("sgd", "mse")
        model.fit(x, x, batch_size=32, epochs=2, verbose=0)
        layer = model.layers[-1]
        batch = np.asarray(model.predict(x[:16], batch_size=16, verbose=0))
        single = np.concatenate(
            [np.asarray(model(x[i : i + 1])) for i in range(16)]
        )
        self.assertAllClose(batch, single, atol=1e-5)
        mean = np.asarray(layer.moving_mean)
        var = np.asarray(layer.moving_variance)
        want = (x[:16] - mean) / np.sqrt(var + EPS) * np.asarray(
            layer.gamma
        ) + np.asarray(layer.beta)
        self.assertAllClose(batch, want, atol=1e-5)

    def test_momentum_zero_inference_equals_training(self):
        x = np.random.RandomState(6).normal(3, 2, (8, 5)).astype("float32")
        layer = GhostBatchNormalization(8, momentum=0.0)
        train = layer(x, training=True)
        self.assertAllClose(layer(x, training=False), train, atol=1e-5)

    def test_synchronized_equals_single_replica(self):
        rng = np.random.RandomState(7)
        x = rng.normal(size=(16, 3)).astype("float32")
        x[8:] += 4.0  # the two replicas see different data

        def make(sync):
            return lambda: GhostBatchNormalization(
                4, momentum=0.0, synchronized=sync
            )

        single = make(False)()
        want = single(x, training=True)
        layer, got = two_replica_training_call(make(True), x)
        self.assertAllClose(got, want, atol=1e-5)
        for values in local_values(layer.moving_mean):
            self.assertAllClose(values, single.moving_mean, atol=1e-5)
        for values in local_values(layer.moving_variance):
            self.assertAllClose(values, single.moving_variance, atol=1e-5)
        # Without synchronization each replica keeps its own statistics.
        local, _ = two_replica_training_call(make(False), x)
        copies = local_values(local.moving_mean)
        self.assertGreater(np.abs(copies[0] - copies[1]).max(), 1.0)

    def test_float32_statistics_under_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_float16")
        x = np.random.RandomState(8).normal(300, 50, (16, 4))
        layer = GhostBatchNormalization(8, momentum=0.0)
        out = layer(x.astype("float16"), training=True)
        self.assertEqual(out.dtype, "float16")
        self.assertEqual(layer.moving_variance.dtype, "float32")
        want, _, var = numpy_ghost(x.astype("float16").astype("float32"), 8)
        self.assertTrue(np.all(np.isfinite(np.asarray(out, "float32"))))
        self.assertAllClose(out, want, atol=2e-2)
        self.assertAllClose(layer.moving_variance, var, rtol=1e-4)

    def test_serialization_keeps_statistics(self):
        x = np.random.RandomState(9).normal(size=(8, 3)).astype("float32")
        layer = GhostBatchNormalization(4, momentum=0.0)
        layer(x, training=True)
        revived = GhostBatchNormalization.from_config(layer.get_config())
        revived.build(x.shape)
        revived.set_weights(layer.get_weights())
        self.assertAllClose(revived(x), layer(x))
        self.assertEqual(revived.virtual_batch_size, 4)

    def test_errors(self):
        for bad in (0, -2, 2.5, "4", None, True):
            with self.assertRaisesRegex(ValueError, "virtual_batch_size"):
                GhostBatchNormalization(bad)
        with self.assertRaisesRegex(ValueError, "momentum"):
            GhostBatchNormalization(4, momentum=1.5)
        with self.assertRaisesRegex(ValueError, "epsilon"):
            GhostBatchNormalization(4, epsilon=0.0)
        with self.assertRaisesRegex(ValueError, "axis"):
            GhostBatchNormalization(4, axis=1.5)
        with self.assertRaisesRegex(ValueError, "synchronized"):
            GhostBatchNormalization(4, synchronized="yes")
        with self.assertRaisesRegex(ValueError, "axis"):
            GhostBatchNormalization(4, axis=0)(np.zeros((4, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "mask"):
            GhostBatchNormalization(4)(
                np.zeros((4, 3), "float32"),
                training=True,
                mask=np.ones((4, 3), bool),
            )
