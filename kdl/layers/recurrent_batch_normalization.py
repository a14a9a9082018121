"""Recurrent batch normalization (Cooijmans et al. 2016), per time step."""

import keras
from keras import ops

from kdl import _validation
from kdl.layers._batch_norm_base import BatchNormBase
from kdl.layers._batch_norm_base import replica_sum


@keras.saving.register_keras_serializable(package="kdl")
class RecurrentBatchNormalization(BatchNormBase):
    """Batch normalization of sequences with statistics per time step.

    Inputs are batch-major sequences `(batch, time, ..., features)`. In
    **training**, time step `t` is normalized with the mean and (biased)
    variance of step `t` over the batch (and any axes between time and
    features): `gamma * (x_t - mean_t) / sqrt(var_t + epsilon) + beta`, with
    `gamma` and `beta` shared over time. Each of the `max_steps` rows of
    `moving_mean` / `moving_variance` (shape `(max_steps, features)`) is
    updated from its own step, `moving = moving * momentum + batch * (1 -
    momentum)`; steps at or beyond `max_steps` are normalized with their
    batch statistics but update nothing. **Inference** uses row `t` of the
    moving statistics, and row `max_steps - 1` for every later step (the
    paper's rule for sequences longer than those seen in training).

    `normalize_step(x_t, t, training)` does the same for one step (no time
    axis) and is what `BNLSTMCell` uses inside `keras.layers.RNN`.

    Under a `tf.distribute` strategy the sequence call keeps the moving
    statistics equal on every replica (the mean of the replicas' updates;
    see `synchronized` for global batch statistics). `normalize_step` runs
    inside the RNN's `while_loop`, where TF cannot all-reduce: there each
    unsynchronized replica updates its own copy (a known gap: `BNLSTMCell`
    under a multi-replica strategy saves replica 0's statistics).

    Args:
        max_steps: positive int, number of time steps with their own
            statistics (the paper's `T_max`).
        axis: int, the feature axis of the sequence input (not the batch
            axis 0 or the time axis 1). Default -1.
        momentum: float in [0, 1], momentum of the moving statistics.
        epsilon: positive float added to the variance.
        center, scale, *_initializer, *_regularizer, *_constraint: as in
            `keras.layers.BatchNormalization` (the paper initializes `gamma`
            to 0.1: `gamma_initializer=keras.initializers.Constant(0.1)`).
        synchronized: bool, per-step statistics over all replicas of a
            `tf.distribute` strategy (TF replica context `all_reduce`; no
            `keras.ops` form exists).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor `(batch, time, ..., features)`.
        training: bool, per-step batch statistics (True) or moving ones.
        mask: optional boolean `(batch, time)` (e.g. from `Embedding(...,
            mask_zero=True)`); `False` steps are left out of the statistics
            of their time step (they are still normalized), and a step that
            is masked in every sequence does not update its moving row.

    Returns:
        A tensor of the shape of `inputs`, in the layer's compute dtype.
        Statistics are computed in float32 under mixed precision.

    Example:

    >>> layer = RecurrentBatchNormalization(max_steps=50)
    >>> y = layer(np.random.rand(8, 50, 16).astype("float32"), training=True)

    Reference:
        Cooijmans, Ballas, Laurent, Gulcehre & Courville, "Recurrent Batch
        Normalization", ICLR 2017, https://arxiv.org/abs/1603.09025.
    """

    def __init__(self, max_steps, axis=-1, **kwargs):
        self.max_steps = _validation.positive_integer("max_steps", max_steps)
        super().__init__(axis=axis, **kwargs)

    def _min_axis(self):
        return 2

    def build_statistics(self, shape):
        shape = (self.max_steps,) + tuple(shape)
        self.moving_mean = self._stat_weight(
            "moving_mean", shape, self.moving_mean_initializer
        )
        self.moving_variance = self._stat_weight(
            "moving_variance", shape, self.moving_variance_initializer
        )

    def _expand(self, stats, ndim, axis, time_axis):
        """(T, C) or (C,) statistics -> broadcastable to the input."""
        kept = [time_axis, axis] if time_axis is not None else [axis]
        for i in range(ndim):
            if i not in kept:
                stats = ops.expand_dims(stats, i)
        return stats

    def _sequence_weights(self, x, mask):
        if mask is None:
            return None
        if len(mask.shape) != 2:
            raise ValueError(
                "The mask must have shape (batch, time). "
                f"Received: mask.shape={mask.shape}, inputs.shape={x.shape}"
            )
        weights = ops.cast(mask, x.dtype)
        for i in range(2, self._ndim):
            weights = ops.expand_dims(weights, i)
        return weights

    def _normalize(self, x, mean, variance, gamma, beta, expand):
        inv = ops.rsqrt(variance + self.epsilon)
        if gamma is not None:
            inv = inv * gamma
        outputs = (x - expand(mean)) * expand(inv)
        if beta is not None:
            outputs = outputs + expand(beta)
        return outputs

    def _weighted_mean(self, x, weights, axes):
        """Mean and count over `axes`, masked and synchronized."""
        xs = x if weights is None else x * weights
        total = ops.sum(xs, axis=axes)
        if weights is None:
            count = 1
            for a in axes:
                count = count * ops.shape(x)[a]
            count = ops.cast(count, x.dtype) * ops.ones_like(total)
        else:
            count = ops.sum(weights * ops.ones_like(x), axis=axes)
        if self.synchronized:
            total, count = replica_sum([total, count])
        mean = ops.divide_no_nan(total, count)
        return mean, count

    def _moments_with_count(self, x, weights, axes, expand):
        if weights is None and not self.synchronized:
            mean, variance = ops.moments(x, axes=axes)
            return mean, variance, None
        mean, count = self._weighted_mean(x, weights, axes)
        squares = ops.square(x - expand(mean))
        if weights is not None:
            squares = squares * weights
        total = ops.sum(squares, axis=axes)
        if self.synchronized:
            (total,) = replica_sum([total])
        return mean, ops.divide_no_nan(total, count), count

    def call(self, inputs, training=None, mask=None):
        x = self._upcast(inputs)
        gamma, beta = self._gamma_beta(x.dtype)
        ndim = self._ndim
        steps = ops.shape(x)[1]

        def expand(stats):
            if len(stats.shape) == 1:
                return self._expand(stats, ndim, self._axis, None)
            return self._expand(stats, ndim, self._axis, 1)

        if not (training and self.trainable):
            index = ops.minimum(ops.arange(steps), self.max_steps - 1)
            mean = ops.take(ops.cast(self.moving_mean, x.dtype), index, 0)
            variance = ops.take(
                ops.cast(self.moving_variance, x.dtype), index, 0
            )
            outputs = self._normalize(x, mean, variance, gamma, beta, expand)
            return ops.cast(outputs, self.compute_dtype)

        weights = self._sequence_weights(x, mask)
        axes = [a for a in self._reduction_axes if a != 1]
        mean, variance, count = self._moments_with_count(
            x, weights, axes, expand
        )
        outputs = self._normalize(x, mean, variance, gamma, beta, expand)

        # Rows 0 .. min(T, max_steps) - 1 of the moving statistics.
        if isinstance(steps, int):  # static length (always on JAX)
            pad = max(self.max_steps - steps, 0)
        else:
            pad = ops.maximum(self.max_steps - steps, 0)
        valid = ops.arange(self.max_steps) < steps
        if count is not None:
            padded = ops.pad(count[:, :1], [[0, pad], [0, 0]])
            valid = ops.logical_and(valid, padded[: self.max_steps, 0] > 0)
        valid = ops.expand_dims(valid, -1)
        for variable, value in (
            (self.moving_mean, mean),
            (self.moving_variance, variance),
        ):
            value = ops.pad(value, [[0, pad], [0, 0]])[: self.max_steps]
            current = variable.value
            updated = current * self.momentum + value * (1.0 - self.momentum)
            self._assign_statistic(variable, ops.where(valid, updated, current))
        return ops.cast(outputs, self.compute_dtype)

    def normalize_step(self, inputs, time_step, training=None, mask=None):
        """Normalizes one time step `(batch, ..., features)` (no time axis).

        Args:
            inputs: the step's tensor; the feature axis is `axis` of the
                sequence input with the time axis removed.
            time_step: int scalar (tensor), the step index `t`.
            training: bool, step-`t` batch statistics (and update of row
                `t` if `t < max_steps`) or moving row `min(t, max_steps-1)`.
            mask: optional boolean `(batch,)`: which examples count.
        """
        if not self.built:
            raise ValueError(
                "Build the layer with the sequence shape first, e.g. "
                "`layer.build((None, None, features))`."
            )
        x = self._upcast(inputs)
        gamma, beta = self._gamma_beta(x.dtype)
        ndim = len(x.shape)
        axis = self._axis - 1
        time_step = ops.cast(time_step, "int32")

        def expand(stats):
            return self._expand(stats, ndim, axis, None)

        if not (training and self.trainable):
            index = ops.minimum(time_step, self.max_steps - 1)
            mean = ops.take(ops.cast(self.moving_mean, x.dtype), index, 0)
            variance = ops.take(
                ops.cast(self.moving_variance, x.dtype), index, 0
            )
            outputs = self._normalize(x, mean, variance, gamma, beta, expand)
            return ops.cast(outputs, self.compute_dtype)

        weights = None
        if mask is not None:
            weights = ops.cast(mask, x.dtype)
            for i in range(1, ndim):
                weights = ops.expand_dims(weights, i)
        axes = [a for a in range(ndim) if a != axis]
        mean, variance, count = self._moments_with_count(
            x, weights, axes, expand
        )
        outputs = self._normalize(x, mean, variance, gamma, beta, expand)
        row = ops.expand_dims(ops.arange(self.max_steps) == time_step, -1)
        if count is not None:
            row = ops.logical_and(row, count[0] > 0)
        for variable, value in (
            (self.moving_mean, mean),
            (self.moving_variance, variance),
        ):
            current = variable.value
            updated = current * self.momentum + value * (1.0 - self.momentum)
            variable.assign(ops.where(row, updated, current))
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "max_steps": self.max_steps}
