"""Recurrent batch normalization against a NumPy reference."""

import keras
import numpy as np

from kdl.layers import RecurrentBatchNormalization
from tests.layers.batch_norm_testing import TF_DISTRIBUTE
from tests.layers.batch_norm_testing import local_values
from tests.layers.batch_norm_testing import two_replica_training_call
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow

EPS = 1e-3


def numpy_per_step(x, mask=None, eps=EPS):
    """Per-time-step batch norm of (batch, time, features)."""
    x = x.astype("float64")
    w = np.ones(x.shape[:2]) if mask is None else mask.astype("float64")
    w = w[..., None]
    n = w.sum(0)
    mean = (x * w).sum(0) / n
    var = (((x - mean) ** 2) * w).sum(0) / n
    return (x - mean) / np.sqrt(var + eps), mean, var


class RecurrentBatchNormalizationTest(TestCase):
    def test_layer(self):
        x = np.random.RandomState(10).normal(size=(4, 6, 3)).astype("float32")
        self.run_layer_test(
            RecurrentBatchNormalization,
            {"max_steps": 4, "momentum": 0.9},
            x,
            expected_output_shape=(4, 6, 3),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=2,
            supports_masking=True,
        )

    def test_statistics_per_time_step(self):
        rng = np.random.RandomState(1)
        x = rng.normal(size=(8, 5, 3)).astype("float32")
        x = x * np.arange(1, 6)[None, :, None] + np.arange(5)[None, :, None]
        layer = RecurrentBatchNormalization(max_steps=3, momentum=0.0)
        want, mean, var = numpy_per_step(x)
        self.assertAllClose(layer(x, training=True), want, atol=1e-5)
        self.assertAllClose(layer.moving_mean, mean[:3], atol=1e-5)
        self.assertAllClose(layer.moving_variance, var[:3], atol=1e-4)
        # Inference: row t, and the last row beyond max_steps.
        got = np.asarray(layer(x, training=False))
        self.assertAllClose(got[:, :3], want[:, :3], atol=1e-4)
        last = (x[:, 3:] - mean[2]) / np.sqrt(var[2] + EPS)
        self.assertAllClose(got[:, 3:], last, atol=1e-4)
        # A shorter sequence updates only its rows.
        short = RecurrentBatchNormalization(max_steps=8, momentum=0.0)
        short(x, training=True)
        self.assertAllClose(short.moving_mean[:5], mean, atol=1e-5)
        self.assertAllClose(short.moving_mean[5:], np.zeros((3, 3)))
        self.assertAllClose(short.moving_variance[5:], np.ones((3, 3)))

    def test_mask_and_dynamic_length(self):
        rng = np.random.RandomState(2)
        x = rng.normal(size=(6, 5, 2)).astype("float32")
        lengths = np.array([5, 5, 4, 3, 2, 2])
        mask = np.arange(5)[None] < lengths[:, None]
        x[~mask] = 1000.0
        layer = RecurrentBatchNormalization(max_steps=6, momentum=0.0)

        def fn(a, m):
            return layer(a, training=True, mask=m)

        if backend() == "tensorflow":  # unknown batch and length
            import tensorflow as tf

            fn = tf.function(
                fn,
                input_signature=[
                    tf.TensorSpec((None, None, 2)),
                    tf.TensorSpec((None, None), tf.bool),
                ],
            )
        want, mean, var = numpy_per_step(x, mask)
        got = np.asarray(fn(x, mask))
        np.testing.assert_allclose(got[mask], want[mask], atol=1e-4)
        self.assertAllClose(layer.moving_mean[:5], mean, atol=1e-5)
        self.assertAllClose(layer.moving_variance[:5], var, atol=1e-4)
        self.assertAllClose(layer.moving_mean[5], np.zeros(2))  # unseen row
        # With an Embedding mask in a model.
        ids = np.where(mask, 1 + rng.randint(0, 9, mask.shape), 0)
        inputs = keras.Input((None,), dtype="int32")
        emb = keras.layers.Embedding(10, 3, mask_zero=True)(inputs)
        out = RecurrentBatchNormalization(max_steps=5)(emb)
        model = keras.Model(inputs, out)
        model.compile("adam", "mse")
        model.fit(ids, np.zeros((6, 5, 3)), epochs=1, verbose=0)

    def test_momentum_zero_inference_equals_training(self):
        x = np.random.RandomState(3).normal(2, 3, (8, 4, 3)).astype("float32")
        layer = RecurrentBatchNormalization(max_steps=4, momentum=0.0)
        train = layer(x, training=True)
        self.assertAllClose(layer(x, training=False), train, atol=1e-5)

    def test_normalize_step_equals_sequence_call(self):
        x = np.random.RandomState(4).normal(size=(8, 5, 3)).astype("float32")
        sequence = RecurrentBatchNormalization(max_steps=3, momentum=0.5)
        step = RecurrentBatchNormalization(max_steps=3, momentum=0.5)
        step.build((None, None, 3))
        want = sequence(x, training=True)
        got = np.stack(
            [
                np.asarray(step.normalize_step(x[:, t], t, training=True))
                for t in range(5)
            ],
            1,
        )
        self.assertAllClose(got, want, atol=1e-5)
        self.assertAllClose(step.moving_mean, sequence.moving_mean, atol=1e-6)
        self.assertAllClose(step.moving_variance, sequence.moving_variance)
        got = step.normalize_step(x[:, 4], 4, training=False)
        self.assertAllClose(got, sequence(x)[:, 4], atol=1e-5)

    @skip_unless_tensorflow(TF_DISTRIBUTE)
    def test_synchronized_equals_single_replica(self):
        rng = np.random.RandomState(5)
        x = rng.normal(size=(8, 4, 3)).astype("float32")
        x[4:] += 3.0

        def make(sync):
            return lambda: RecurrentBatchNormalization(
                max_steps=4, momentum=0.0, synchronized=sync
            )

        single = make(False)()
        want = single(x, training=True)
        layer, got = two_replica_training_call(make(True), x)
        self.assertAllClose(got, want, atol=1e-5)
        for values in local_values(layer.moving_mean):
            self.assertAllClose(values, single.moving_mean, atol=1e-5)
        for values in local_values(layer.moving_variance):
            self.assertAllClose(values, single.moving_variance, atol=1e-4)
        # Unsynchronized: each replica normalizes with its own rows, and the
        # moving statistics are the mean of the replicas' updates, the same
        # on both (what a saved model holds).
        local, _ = two_replica_training_call(make(False), x)
        halves = [make(False)(), make(False)()]
        halves[0](x[:4], training=True)
        halves[1](x[4:], training=True)
        for name in ("moving_mean", "moving_variance"):
            first, second = local_values(getattr(local, name))
            self.assertAllClose(first, second, atol=0, msg=name)
            want = sum(np.asarray(getattr(h, name)) for h in halves) / 2
            self.assertAllClose(first, want, atol=1e-5, msg=name)

    def test_float32_statistics_under_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_float16")
        x = np.random.RandomState(6).normal(500, 40, (16, 3, 2))
        x16 = x.astype("float16")
        layer = RecurrentBatchNormalization(max_steps=3, momentum=0.0)
        out = layer(x16, training=True)
        self.assertEqual(out.dtype, "float16")
        want, mean, var = numpy_per_step(x16.astype("float32"))
        self.assertAllClose(layer.moving_mean, mean, rtol=1e-6)
        self.assertAllClose(layer.moving_variance, var, rtol=1e-4)
        self.assertAllClose(out, want, atol=1e-2)

    def test_errors(self):
        for bad in (0, -1, 2.5, None):
            with self.assertRaisesRegex(ValueError, "max_steps"):
                RecurrentBatchNormalization(bad)
        with self.assertRaisesRegex(ValueError, "axis"):
            RecurrentBatchNormalization(4, axis=1)(np.zeros((2, 3, 4)))
        with self.assertRaisesRegex(ValueError, "mask"):
            RecurrentBatchNormalization(4)(
                np.zeros((2, 3, 4)), training=True, mask=np.ones((2, 3, 4))
            )
        with self.assertRaisesRegex(ValueError, "build"):
            RecurrentBatchNormalization(4).normalize_step(np.zeros((2, 3)), 0)
