"""Helpers shared by the batch-norm variant tests.

`BatchNormVariant` describes one variant for the shared contract suite
(`batch_norm_contract_test.py`); each variant's own test file defines its
`VARIANT` next to its NumPy reference.
"""

import dataclasses
from typing import Callable

import numpy as np

from tests.test_case import two_replica_strategy

# The 2-replica helpers below are TensorFlow-only (tf.distribute); the
# tests that use them are skipped on other backends.
TF_DISTRIBUTE = "tf.distribute MirroredStrategy"


@dataclasses.dataclass(frozen=True)
class BatchNormVariant:
    """One batch-norm variant, as the contract suite sees it.

    Attributes:
        name: test-name suffix.
        layer_cls: the layer class.
        kwargs: the variant's own constructor arguments, used by every
            contract check (e.g. `{"virtual_batch_size": 4}`).
        statistics: names of the moving-statistics weights, mean first.
        num_non_trainable_weights: non-trainable weights after building.
        reference: `reference(x, mask=None) -> (y, statistics)`: the
            training output of a fresh layer built with `kwargs` and
            `momentum=0`, and the values its `statistics` then hold, in
            float64, over all axes but the last.
        inference: `inference(layer, x) -> y`: the inference output from the
            layer's current weights (NumPy).
        whole_batch_kwargs: overrides under which a training call on an
            8-row batch normalizes with that batch's statistics as a whole.
    """

    name: str
    layer_cls: type
    kwargs: dict
    statistics: tuple
    num_non_trainable_weights: int
    reference: Callable
    inference: Callable
    whole_batch_kwargs: dict = dataclasses.field(default_factory=dict)

    def make(self, **overrides):
        return self.layer_cls(**{**self.kwargs, **overrides})


def local_values(variable):
    """The per-replica copies of a (Keras) variable, as NumPy arrays."""
    import tensorflow as tf

    value = getattr(variable, "value", variable)
    strategy = tf.distribute.get_strategy()
    try:
        parts = value.values
    except AttributeError:
        parts = strategy.experimental_local_results(value)
    return [np.asarray(p) for p in parts]


def two_replica_training_call(make_layer, x, mask=None, build_shape=None):
    """Calls a fresh layer with `training=True` on `x` split over 2 replicas.

    Returns `(layer, outputs)`: the layer built under a 2-replica
    `MirroredStrategy`, and the replicas' outputs concatenated in batch
    order. Replica `i` gets rows `[i * n/2, (i + 1) * n/2)`.
    """
    import tensorflow as tf

    strategy = two_replica_strategy()
    half = len(x) // 2
    with strategy.scope():
        layer = make_layer()
        layer.build(build_shape or x.shape)

    def values(ctx):
        i = ctx.replica_id_in_sync_group
        part = {"x": tf.constant(x[i * half : (i + 1) * half])}
        if mask is not None:
            part["mask"] = tf.constant(mask[i * half : (i + 1) * half])
        return part

    dist = strategy.experimental_distribute_values_from_function(values)

    def replica_fn(part):
        return layer(part["x"], training=True, mask=part.get("mask"))

    outputs = tf.function(lambda d: strategy.run(replica_fn, args=(d,)))(dist)
    outputs = np.concatenate(
        [np.asarray(o) for o in strategy.experimental_local_results(outputs)]
    )
    return layer, outputs
