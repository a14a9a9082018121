import keras
import numpy as np
import tensorflow as tf

from kdl.layers import BatchRenormalization
from tests.layers.batch_norm_testing import local_values
from tests.layers.batch_norm_testing import two_replica_training_call
from tests.test_case import TestCase

EPS = 1e-3
NO_RAMP = dict(warmup_steps=0, rmax_steps=0, dmax_steps=0)


def numpy_renorm(x, mu, sigma, rmax, dmax, gamma=1.0, beta=0.0, eps=EPS):
    """Ioffe 2017, Algorithm 1 (training), over all axes but the last."""
    axes = tuple(range(x.ndim - 1))
    x = x.astype("float64")
    mean = x.mean(axes)
    std = np.sqrt(x.var(axes) + eps)
    r = np.clip(std / sigma, 1 / rmax, rmax)
    d = np.clip((mean - mu) / sigma, -dmax, dmax)
    return gamma * ((x - mean) / std * r + d) + beta, mean, std


class BatchRenormalizationTest(TestCase):
    def test_layer(self):
        # (Not seed 0: the fit check's target is RandomState(0).normal, and
        # renorm with moving statistics (0, 1) and no clipping is identity.)
        x = np.random.RandomState(10).normal(size=(8, 5, 3)).astype("float32")
        self.run_layer_test(
            BatchRenormalization,
            {"rmax": 2.0, "dmax": 1.0, **NO_RAMP},
            x,
            expected_output_shape=(8, 5, 3),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=3,
            supports_masking=True,
        )

    def test_rmax_one_dmax_zero_is_keras_bn(self):
        x = np.random.RandomState(1).normal(2, 3, (6, 4, 5)).astype("float32")
        renorm = BatchRenormalization(rmax=1.0, dmax=0.0, momentum=0.7)
        bn = keras.layers.BatchNormalization(momentum=0.7)
        for i in range(3):
            xi = x + i  # moving statistics differ from the batch's
            self.assertAllClose(
                renorm(xi, training=True), bn(xi, training=True), atol=1e-5
            )
        self.assertAllClose(renorm.moving_mean, bn.moving_mean, atol=1e-5)
        # The warm-up of the default schedule is plain BN too.
        warm = BatchRenormalization(momentum=0.7)
        self.assertAllClose(
            warm(x + 5, training=True),
            keras.layers.BatchNormalization()(x + 5, training=True),
            atol=1e-5,
        )

    def test_correction_equals_numpy(self):
        rng = np.random.RandomState(2)
        x = rng.normal(4, 5, (16, 3)).astype("float32")
        layer = BatchRenormalization(
            rmax=1.5, dmax=0.5, momentum=0.9, **NO_RAMP
        )
        layer.build(x.shape)
        mu = np.array([0.0, 4.0, 10.0], "float32")
        sigma = np.array([1.0, 5.0, 2.0], "float32")
        layer.moving_mean.assign(mu)
        layer.moving_stddev.assign(sigma)
        want, mean, std = numpy_renorm(x, mu, sigma, 1.5, 0.5)
        self.assertAllClose(layer(x, training=True), want, atol=1e-5)
        self.assertAllClose(layer.moving_mean, 0.9 * mu + 0.1 * mean, atol=1e-5)
        self.assertAllClose(
            layer.moving_stddev, 0.9 * sigma + 0.1 * std, atol=1e-5
        )
        # Inference: the moving statistics.
        mu, sigma = (
            np.asarray(layer.moving_mean),
            np.asarray(layer.moving_stddev),
        )
        self.assertAllClose(layer(x), (x - mu) / sigma, atol=1e-5)

    def test_r_and_d_carry_no_gradient(self):
        x = tf.constant(
            np.random.RandomState(3).normal(size=(8, 2)).astype("float32")
        )
        layer = BatchRenormalization(rmax=3.0, dmax=5.0, **NO_RAMP)
        layer.build(x.shape)
        layer.moving_mean.assign([1.0, -1.0])
        layer.moving_stddev.assign([0.5, 2.0])
        bn = keras.layers.BatchNormalization()
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = layer(x, training=True)
            y_bn = bn(x, training=True)
            loss = tf.reduce_sum(y * tf.range(8.0)[:, None])
            loss_bn = tf.reduce_sum(y_bn * tf.range(8.0)[:, None])
        # With r, d constants, dy/dx = r * (BN's dy/dx) per channel.
        std = np.sqrt(np.asarray(x).var(0) + EPS)
        r = np.clip(std / np.array([0.5, 2.0]), 1 / 3.0, 3.0)
        self.assertAllClose(
            tape.gradient(loss, x), tape.gradient(loss_bn, x) * r, atol=1e-5
        )

    def test_schedule_of_the_paper(self):
        layer = BatchRenormalization()  # defaults: the paper's schedule
        self.assertEqual(
            (layer.warmup_steps, layer.rmax_steps, layer.dmax_steps),
            (5000, 40000, 25000),
        )
        layer.build((None, 3))
        cases = {
            0: (1.0, 0.0),
            5000: (1.0, 0.0),
            15000: (1.0 + 2.0 * 10 / 35, 5.0 * 10 / 20),
            25000: (1.0 + 2.0 * 20 / 35, 5.0),
            40000: (3.0, 5.0),
            90000: (3.0, 5.0),
        }
        for step, (rmax, dmax) in cases.items():
            got = [float(v) for v in layer.clipping(step)]
            self.assertAllClose(got, [rmax, dmax], atol=1e-6, msg=str(step))
        # The step counter counts training calls.
        x = np.ones((4, 3), "float32")
        layer(x, training=True)
        layer(x, training=True)
        layer(x, training=False)
        self.assertEqual(float(layer.step), 2.0)

    def test_momentum_zero_inference_equals_training(self):
        x = np.random.RandomState(4).normal(3, 2, (8, 5)).astype("float32")
        layer = BatchRenormalization(momentum=0.0, **NO_RAMP)
        layer(x, training=True)  # moving statistics := this batch's
        second = layer(x, training=True)  # r = 1, d = 0 now
        self.assertAllClose(layer(x, training=False), second, atol=1e-5)

    def test_mask_excludes_positions(self):
        rng = np.random.RandomState(5)
        x = rng.normal(size=(4, 6, 3)).astype("float32")
        mask = rng.uniform(size=(4, 6)) > 0.3
        x[~mask] = 1000.0
        layer = BatchRenormalization(momentum=0.0, **NO_RAMP)
        got = np.asarray(layer(x, training=True, mask=mask))
        kept = x[mask]
        want = (kept - kept.mean(0)) / np.sqrt(kept.var(0) + EPS)
        # r, d from the initial moving statistics (0, 1), clipped to 3, 5.
        r = np.clip(np.sqrt(kept.var(0) + EPS), 1 / 3.0, 3.0)
        d = np.clip(kept.mean(0), -5.0, 5.0)
        np.testing.assert_allclose(got[mask], want * r + d, atol=1e-4)
        self.assertAllClose(layer.moving_mean, kept.mean(0), atol=1e-5)

    def test_synchronized_equals_single_replica(self):
        rng = np.random.RandomState(6)
        x = rng.normal(size=(8, 3)).astype("float32")
        x[4:] += 4.0

        def make(sync):
            return lambda: BatchRenormalization(
                rmax=2.0, dmax=1.0, momentum=0.5, synchronized=sync, **NO_RAMP
            )

        single = make(False)()
        want = single(x, training=True)
        layer, got = two_replica_training_call(make(True), x)
        self.assertAllClose(got, want, atol=1e-5)
        for values in local_values(layer.moving_mean):
            self.assertAllClose(values, single.moving_mean, atol=1e-5)
        for values in local_values(layer.moving_stddev):
            self.assertAllClose(values, single.moving_stddev, atol=1e-5)

    def test_float32_statistics_under_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        x = np.random.RandomState(7).normal(300, 50, (16, 4))
        layer = BatchRenormalization(momentum=0.0, **NO_RAMP)
        out = layer(x.astype("float32"), training=True)
        self.assertEqual(out.dtype, "bfloat16")
        for w in layer.weights:
            self.assertEqual(w.dtype, "float32")
        x16 = np.asarray(keras.ops.cast(x, "bfloat16"), "float32")
        self.assertAllClose(layer.moving_mean, x16.mean(0), rtol=1e-6)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "rmax"):
            BatchRenormalization(rmax=0.5)
        with self.assertRaisesRegex(ValueError, "dmax"):
            BatchRenormalization(dmax=-1.0)
        with self.assertRaisesRegex(ValueError, "warmup_steps"):
            BatchRenormalization(warmup_steps=-1)
        with self.assertRaisesRegex(ValueError, "rmax_steps"):
            BatchRenormalization(warmup_steps=10, rmax_steps=5)
        with self.assertRaisesRegex(ValueError, "dmax_steps"):
            BatchRenormalization(warmup_steps=10, dmax_steps=5)
        with self.assertRaisesRegex(ValueError, "dmax_steps"):
            BatchRenormalization(dmax_steps=2.5)
        with self.assertRaisesRegex(ValueError, "momentum"):
            BatchRenormalization(momentum=-0.1)
        with self.assertRaisesRegex(ValueError, "axis"):
            BatchRenormalization(axis=3)(np.zeros((2, 3), "float32"))
