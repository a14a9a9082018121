"""BatchRenormalization: its own numerics and arguments.

The checks every batch-norm variant shares (layer harness, masks,
momentum 0, inference, synchronization, mixed precision, serialization,
shared argument errors) are in `batch_norm_contract_test.py`, run on
`VARIANT`.
"""

import keras
import numpy as np

from kdl.layers import BatchRenormalization
from tests.layers.batch_norm_testing import BatchNormVariant
from tests.test_case import TestCase
from tests.test_case import gradients

EPS = 1e-3
NO_RAMP = dict(warmup_steps=0, rmax_steps=0, dmax_steps=0)
# The contract suite's arguments: clipping active from the first step.
RMAX, DMAX = 2.0, 1.0


def numpy_renorm(x, mu, sigma, rmax, dmax, gamma=1.0, beta=0.0, eps=EPS):
    """Ioffe 2017, Algorithm 1 (training), over all axes but the last."""
    axes = tuple(range(x.ndim - 1))
    x = x.astype("float64")
    mean = x.mean(axes)
    std = np.sqrt(x.var(axes) + eps)
    r = np.clip(std / sigma, 1 / rmax, rmax)
    d = np.clip((mean - mu) / sigma, -dmax, dmax)
    return gamma * ((x - mean) / std * r + d) + beta, mean, std


def reference(x, mask=None):
    """A fresh layer's training output: moving statistics (0, 1)."""
    kept = x.reshape(-1, x.shape[-1]) if mask is None else x[mask]
    y_kept, mean, std = numpy_renorm(kept, 0.0, 1.0, RMAX, DMAX)
    y = np.zeros(x.shape)
    if mask is None:
        y = y_kept.reshape(x.shape)
    else:
        y[mask] = y_kept
    return y, (mean, std)


def inference(layer, x):
    """`gamma * (x - moving_mean) / moving_stddev + beta`."""
    mu = np.asarray(layer.moving_mean)
    sigma = np.asarray(layer.moving_stddev)
    return np.asarray(layer.gamma) * (x - mu) / sigma + np.asarray(layer.beta)


# (With moving statistics (0, 1) and no clipping renorm is the identity, so
# the contract's arguments clip: rmax=2, dmax=1.)
VARIANT = BatchNormVariant(
    name="renorm",
    layer_cls=BatchRenormalization,
    kwargs={"rmax": RMAX, "dmax": DMAX, **NO_RAMP},
    statistics=("moving_mean", "moving_stddev"),
    num_non_trainable_weights=3,  # moving_mean, moving_stddev, step
    reference=reference,
    inference=inference,
)


class BatchRenormalizationTest(TestCase):
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

    def test_zero_moving_variance_infers_like_keras_bn(self):
        # A zero moving variance (its initializer) before any training
        # step: finite outputs, Keras BN's (x - mean) / sqrt(epsilon).
        x = np.random.RandomState(2).normal(size=(8, 4)).astype("float32")
        kwargs = dict(moving_variance_initializer="zeros", epsilon=1e-3)
        renorm = BatchRenormalization(**kwargs)
        bn = keras.layers.BatchNormalization(**kwargs)
        got = renorm(x, training=False)
        self.assertTrue(np.isfinite(np.asarray(got)).all())
        self.assertAllClose(got, bn(x, training=False), rtol=1e-5)

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
        x = np.random.RandomState(3).normal(size=(8, 2)).astype("float32")
        layer = BatchRenormalization(rmax=3.0, dmax=5.0, **NO_RAMP)
        layer.build(x.shape)
        layer.moving_mean.assign([1.0, -1.0])
        layer.moving_stddev.assign([0.5, 2.0])
        bn = keras.layers.BatchNormalization()
        bn.build(x.shape)
        weight = np.arange(8.0, dtype="float32")[:, None]
        _, (grad,) = gradients(lambda x: layer(x, training=True) * weight, [x])
        _, (grad_bn,) = gradients(lambda x: bn(x, training=True) * weight, [x])
        # With r, d constants, dy/dx = r * (BN's dy/dx) per channel.
        std = np.sqrt(x.var(0) + EPS)
        r = np.clip(std / np.array([0.5, 2.0]), 1 / 3.0, 3.0)
        self.assertAllClose(grad, np.asarray(grad_bn) * r, atol=1e-5)

    def test_default_schedule_renormalises_short_runs(self):
        # The paper's shape (1/8 warm-up, dmax at 5/8, rmax at 8/8) over
        # 800 steps: a 1.5K-step run spends most of its steps renormalising.
        layer = BatchRenormalization()
        self.assertEqual(
            (layer.warmup_steps, layer.dmax_steps, layer.rmax_steps),
            (100, 500, 800),
        )
        layer.build((None, 3))
        cases = {0: (1.0, 0.0), 100: (1.0, 0.0), 300: (1.0 + 2.0 * 200 / 700,
                 5.0 * 200 / 400), 500: (1.0 + 2.0 * 400 / 700, 5.0),
                 800: (3.0, 5.0), 1500: (3.0, 5.0)}  # fmt: skip
        for step, (rmax, dmax) in cases.items():
            got = [float(v) for v in layer.clipping(step)]
            self.assertAllClose(got, [rmax, dmax], atol=1e-6, msg=str(step))

    def test_schedule_of_the_paper(self):
        layer = BatchRenormalization(**BatchRenormalization.PAPER_SCHEDULE)
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

    def test_float64_training_call(self):
        # Found by tests/fuzz: the float32 rmax/dmax met float64 statistics.
        self.use_float64()
        x = np.random.RandomState(5).normal(size=(6, 3))
        layer = BatchRenormalization(
            rmax=RMAX, dmax=DMAX, momentum=0.0, dtype="float64", **NO_RAMP
        )
        out = layer(x, training=True)
        self.assertEqual(out.dtype, "float64")
        self.assertAllClose(out, reference(x)[0], atol=1e-6)
