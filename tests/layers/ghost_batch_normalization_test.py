"""GhostBatchNormalization: its own numerics and arguments.

The checks every batch-norm variant shares (layer harness, masks,
momentum 0, inference, synchronization, mixed precision, serialization,
shared argument errors) are in `batch_norm_contract_test.py`, run on
`VARIANT`.
"""

import keras
import numpy as np

from kdl.layers import GhostBatchNormalization
from tests.layers.batch_norm_testing import BatchNormVariant
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import jit_call

EPS = 1e-3
# The contract suite's ghost batches: 4 rows.
VIRTUAL_BATCH_SIZE = 4


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


def reference(x, mask=None):
    y, mean, var = numpy_ghost(x, VIRTUAL_BATCH_SIZE, mask=mask)
    return y, (mean, var)


def inference(layer, x):
    """`gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta`."""
    mean = np.asarray(layer.moving_mean)
    var = np.asarray(layer.moving_variance)
    return np.asarray(layer.gamma) * (x - mean) / np.sqrt(
        var + EPS
    ) + np.asarray(layer.beta)


VARIANT = BatchNormVariant(
    name="ghost",
    layer_cls=GhostBatchNormalization,
    kwargs={"virtual_batch_size": VIRTUAL_BATCH_SIZE},
    statistics=("moving_mean", "moving_variance"),
    num_non_trainable_weights=2,
    reference=reference,
    inference=inference,
    whole_batch_kwargs={"virtual_batch_size": 8},
)


class GhostBatchNormalizationTest(TestCase):
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
        if backend() == "tensorflow":
            import tensorflow as tf

            # Unknown batch size in a graph.
            fn = tf.function(
                lambda t: layer(t, training=True),
                input_signature=[tf.TensorSpec((None, 3, 4, 4))],
            )
            self.assertAllClose(fn(x), want, atol=1e-5)
        self.assertAllClose(jit_call(layer, x, training=True), want, atol=1e-5)

    def test_partial_last_ghost_batch_is_normalized_on_its_own(self):
        # The decision (see the docstring): virtual_batch_size=3 on a batch
        # of 8 is accepted, as ghost batches of 3, 3 and 2 examples.
        rng = np.random.RandomState(4)
        x = rng.normal(size=(8, 5)).astype("float32")
        x[6:] = x[6:] * 4 - 7  # the last ghost batch: its own statistics
        layer = GhostBatchNormalization(virtual_batch_size=3, momentum=0.0)
        want, mean, var = numpy_ghost(x, 3)
        got = np.asarray(layer(x, training=True))
        self.assertAllClose(got, want, atol=1e-4)
        self.assertAllClose(got[6:], numpy_ghost(x[6:], 2)[0], atol=1e-4)
        self.assertAllClose(layer.moving_mean, mean, atol=1e-5)
        self.assertAllClose(layer.moving_variance, var, atol=1e-4)
        # Smaller than one ghost batch: the whole batch; one example: beta.
        self.assertAllClose(
            layer(x[:2], training=True), numpy_ghost(x[:2], 2)[0], atol=1e-4
        )
        self.assertAllClose(layer(x[:1], training=True), np.zeros((1, 5)))

    def test_errors(self):
        for bad in (0, -2, 2.5, "4", None, True):
            with self.assertRaisesRegex(ValueError, "virtual_batch_size"):
                GhostBatchNormalization(bad)
        # The batch axis cannot be the normalized one (ghost batches).
        with self.assertRaisesRegex(ValueError, "axis"):
            GhostBatchNormalization(4, axis=0)(np.zeros((4, 3), "float32"))
