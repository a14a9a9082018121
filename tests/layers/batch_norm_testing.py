"""Helpers shared by the batch-norm variant tests."""

import numpy as np
import tensorflow as tf

from tests.test_case import two_replica_strategy


def local_values(variable):
    """The per-replica copies of a (Keras) variable, as NumPy arrays."""
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
