"""Private base of kdl's batch-norm variants (ghost, renorm, L1, recurrent).

It holds what the variants share with `keras.layers.BatchNormalization`:
the arguments (`axis`, `momentum`, `epsilon`, `center`, `scale`, the
initializers, regularizers and constraints, `synchronized`), the `gamma` /
`beta` weights, mask handling (a mask with one dimension less than the
inputs, `True` where a position counts), masked moments, the moving-average
update `moving = moving * momentum + batch * (1 - momentum)`, and the
cross-replica sums behind `synchronized=True`, and the cross-replica mean
that keeps unsynchronized moving statistics equal on every replica.

Cross-replica sums use `tf.distribute.get_replica_context().all_reduce`,
as Keras's own synchronized batch norm does: `keras.ops` has no
cross-replica reduction. Outside a replica context (or with one replica)
they are the identity. They are TensorFlow-only: on other backends (JAX)
there is no `tf.distribute` replica context and they are the identity too
(under JAX data parallelism, `keras.distribution`, the batch is one global
array, so the statistics are those of the global batch already).
"""

import keras
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from kdl import _validation
from kdl.layers._dtypes import at_least_float32


def _replica_context():
    """The `tf.distribute` replica context with more than one replica, or
    None (always None on backends other than TensorFlow)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return None
    return ctx


def replica_sum(tensors):
    """Sums a list of tensors over the replicas of the current strategy.

    TF-only (`keras.ops` has no cross-replica reduction): this is the
    `tf.distribute` replica context's `all_reduce(SUM, ...)`, what Keras's
    `BatchNormalization(synchronized=True)` uses on TensorFlow. On other
    backends the identity.
    """
    ctx = _replica_context()
    if ctx is None:
        return list(tensors)
    import tensorflow as tf

    return list(ctx.all_reduce(tf.distribute.ReduceOp.SUM, list(tensors)))


class BatchNormBase(keras.layers.Layer):
    """Shared arguments, weights and statistics helpers (not public).

    Subclasses implement `build_statistics(shape)` (their moving
    statistics) and `call`.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = _validation.integer("axis", axis)
        self.momentum = _validation.number("momentum", momentum, 0, 1)
        self.epsilon = _validation.positive_number("epsilon", epsilon)
        self.center = _validation.boolean("center", center)
        self.scale = _validation.boolean("scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(
            moving_variance_initializer
        )
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.synchronized = _validation.boolean("synchronized", synchronized)

        self.supports_masking = True
        self.gamma = None
        self.beta = None

    # ------------------------------------------------------------------
    # Building.
    def _resolve_axis(self, input_shape, min_axis=0):
        ndim = len(input_shape)
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not min_axis <= axis < ndim:
            raise ValueError(
                f"`axis` {self.axis} is out of bounds for an input of rank "
                f"{ndim} (the first {min_axis} axes cannot be normalized). "
                f"Received: axis={self.axis}, input_shape={input_shape}"
            )
        if input_shape[axis] is None:
            raise ValueError(
                "The normalized axis must have a known size. "
                f"Received: axis={self.axis}, input_shape={input_shape}"
            )
        return axis

    def build(self, input_shape):
        self._axis = self._resolve_axis(input_shape, self._min_axis())
        self._ndim = len(input_shape)
        self._reduction_axes = [i for i in range(self._ndim) if i != self._axis]
        shape = (input_shape[self._axis],)
        if self.scale:
            self.gamma = self.add_weight(
                shape=shape,
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                trainable=True,
                autocast=False,
            )
        if self.center:
            self.beta = self.add_weight(
                shape=shape,
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                trainable=True,
                autocast=False,
            )
        self.build_statistics(shape)
        self.input_spec = keras.layers.InputSpec(
            ndim=self._ndim, axes={self._axis: input_shape[self._axis]}
        )

    def _min_axis(self):
        return 0

    def build_statistics(self, shape):
        raise NotImplementedError

    def _stat_weight(self, name, shape, initializer):
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=initializer,
            trainable=False,
            autocast=False,
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # ------------------------------------------------------------------
    # Helpers for `call`.
    def _upcast(self, inputs):
        dtype = at_least_float32(inputs.dtype)
        return ops.cast(inputs, dtype)

    def _broadcast(self, vector, ndim=None):
        """(C,) -> shape with C on the normalized axis and 1 elsewhere."""
        ndim = ndim or self._ndim
        shape = [1] * ndim
        shape[self._axis] = -1
        return ops.reshape(vector, shape)

    def _gamma_beta(self, dtype):
        gamma = None if self.gamma is None else ops.cast(self.gamma, dtype)
        beta = None if self.beta is None else ops.cast(self.beta, dtype)
        return gamma, beta

    def _mask_weights(self, inputs, mask):
        """Float weights broadcastable to `inputs` (1 on the axis), or None.

        As in `keras.layers.BatchNormalization`, the mask has one dimension
        less than the inputs (the normalized axis is left out).
        """
        if mask is None:
            return None
        if len(mask.shape) != len(inputs.shape) - 1:
            raise ValueError(
                "The mask must have one dimension less than the inputs. "
                f"Received: mask.shape={mask.shape}, "
                f"inputs.shape={inputs.shape}"
            )
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), self._axis)
        return weights

    def _count(self, x, weights, axes):
        """Number of (unmasked) values per channel over `axes`."""
        if weights is not None:
            return ops.sum(weights, axis=axes)
        shape = ops.shape(x)
        count = 1
        for a in axes:
            count = count * shape[a]
        return ops.cast(ops.reshape(count, (1,)), x.dtype)

    def _moments(self, x, weights):
        """Batch mean and (biased) variance per channel, masked and synced.

        Without mask and synchronization this is `ops.moments`, as in
        Keras's batch norm. Otherwise two passes over weighted sums, whose
        sums (and counts) are added over the replicas when `synchronized`.
        """
        axes = self._reduction_axes
        if weights is None and not self.synchronized:
            return ops.moments(x, axes=axes)
        mean = self._mean(x, weights, axes)
        centered = x - self._broadcast(mean)
        squares = ops.square(centered)
        if weights is not None:
            squares = squares * weights
        total, count = self._sum_and_count(squares, None, weights, axes)
        return mean, ops.divide_no_nan(total, count)

    def _mean(self, x, weights, axes):
        total, count = self._sum_and_count(
            x if weights is None else x * weights, x, weights, axes
        )
        return ops.divide_no_nan(total, count)

    def _sum_and_count(self, values, x, weights, axes):
        total = ops.sum(values, axis=axes)
        count = self._count(values if x is None else x, weights, axes)
        count = ops.broadcast_to(count, ops.shape(total))
        if self.synchronized:
            total, count = replica_sum([total, count])
        return total, count

    def _update(self, variable, value):
        """`variable = variable * momentum + value * (1 - momentum)`.

        The same on every replica (see `_assign_statistic`).
        """
        self._assign_statistic(
            variable, variable * self.momentum + value * (1.0 - self.momentum)
        )

    def _assign_statistic(self, variable, value):
        """Assigns a moving statistic, one value across replicas.

        Unsynchronized layers under a `tf.distribute` strategy compute each
        replica's update from its own batch; the replicas' new values are
        averaged (one all-reduce) so every replica keeps, and a saved model
        holds, the same moving statistics. With `synchronized=True` the
        statistics are those of the global batch already. Outside a replica
        context, or with one replica (and on backends other than
        TensorFlow), `value` is assigned as is.
        """
        ctx = None if self.synchronized else _replica_context()
        if ctx is not None:
            import tensorflow as tf

            value = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, value)
        variable.assign(value)

    def get_config(self):
        config = {
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(
                self.moving_mean_initializer
            ),
            "moving_variance_initializer": initializers.serialize(
                self.moving_variance_initializer
            ),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
        }
        return {**super().get_config(), **config}
