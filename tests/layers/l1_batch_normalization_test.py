"""L1BatchNormalization: its own numerics.

The checks every batch-norm variant shares (layer harness, masks,
momentum 0, inference, synchronization, mixed precision, serialization,
argument errors) are in `batch_norm_contract_test.py`, run on `VARIANT`.
"""

import numpy as np

from kdl.layers import L1BatchNormalization
from tests.layers.batch_norm_testing import BatchNormVariant
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


def reference(x, mask=None):
    y, mu, sigma = numpy_l1(x, mask=mask)
    return y, (mu, sigma)


def inference(layer, x):
    """`gamma * (x - moving_mean) / (moving_stddev + eps) + beta`."""
    mu = np.asarray(layer.moving_mean)
    sigma = np.asarray(layer.moving_stddev)
    return np.asarray(layer.gamma) * (x - mu) / (sigma + EPS) + np.asarray(
        layer.beta
    )


VARIANT = BatchNormVariant(
    name="l1",
    layer_cls=L1BatchNormalization,
    kwargs={},
    statistics=("moving_mean", "moving_stddev"),
    num_non_trainable_weights=2,
    reference=reference,
    inference=inference,
)


class L1BatchNormalizationTest(TestCase):
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
