"""Recurrent batch normalization and the BN-LSTM (Cooijmans et al. 2016)."""

import keras
from keras import activations
from keras import initializers
from keras import ops

from kdl.layers._batch_norm_base import BatchNormBase
from kdl.layers._batch_norm_base import check_positive_int
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
        self.max_steps = check_positive_int("max_steps", max_steps)
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
            updated = variable * self.momentum + value * (1.0 - self.momentum)
            variable.assign(ops.where(valid, updated, variable))
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
            updated = variable * self.momentum + value * (1.0 - self.momentum)
            variable.assign(ops.where(row, updated, variable))
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "max_steps": self.max_steps}


@keras.saving.register_keras_serializable(package="kdl")
class BNLSTMCell(keras.layers.Layer):
    """The batch-normalized LSTM cell (Cooijmans et al. 2016), for `RNN`.

    ```
    (i, f, g, o) = BN(W_h h_{t-1}; gamma_h) + BN(W_x x_t; gamma_x) + b
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(BN(c_t; gamma_c, beta_c))
    ```

    The input term, the recurrent term and the cell are normalized
    separately, each by a `RecurrentBatchNormalization` with statistics
    per time step (the two gate terms without `beta`: the bias `b` plays
    that role). `gamma` starts at 0.1 (the paper: larger values saturate
    `tanh` and hurt gradient flow). The time index is carried as a third
    state, an int32 counter (so `stateful=True` keeps counting across
    batches; steps from `max_steps` on use the last statistics).

    Limits: `keras.layers.RNN` does not pass its mask to the cell, so
    padded steps do enter the per-step batch statistics (the RNN still
    skips them in the states); use equal-length sequences or
    `RecurrentBatchNormalization` with masks. With `synchronized=True`
    under `MirroredStrategy`, wrap the cell in `RNN(..., unroll=True)`:
    TF cannot all-reduce across replicas inside a `while_loop`.

    Args:
        units: positive int, size of `h` and `c`.
        max_steps: positive int, steps with their own statistics.
        activation: activation of `g` and of the output (default tanh).
        recurrent_activation: gate activation (default sigmoid).
        kernel_initializer: initializer of `W_x` (default glorot_uniform).
        recurrent_initializer: initializer of `W_h` (default orthogonal).
        bias_initializer: initializer of `b` (default zeros).
        unit_forget_bias: bool, add 1 to the forget-gate bias at init.
        gamma_initializer: initializer of the three `gamma` (default 0.1).
        momentum, epsilon: of the three normalizations.
        synchronized: bool, cross-replica statistics (see above).
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, features)`, one step.
        states: `[h, c, t]`.
        training: bool, batch statistics (True) or moving statistics.

    Returns:
        `(h_t, [h_t, c_t, t + 1])`.

    Example:

    >>> layer = keras.layers.RNN(BNLSTMCell(64, max_steps=28))
    >>> y = layer(np.random.rand(4, 28, 28).astype("float32"))
    >>> y.shape
    TensorShape([4, 64])

    Reference:
        Cooijmans, Ballas, Laurent, Gulcehre & Courville, "Recurrent Batch
        Normalization", ICLR 2017, https://arxiv.org/abs/1603.09025.
    """

    def __init__(
        self,
        units,
        max_steps,
        activation="tanh",
        recurrent_activation="sigmoid",
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        gamma_initializer=None,
        momentum=0.99,
        epsilon=1e-3,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.max_steps = check_positive_int("max_steps", max_steps)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.gamma_initializer = initializers.get(
            gamma_initializer or initializers.Constant(0.1)
        )
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.synchronized = synchronized
        self.state_size = [self.units, self.units, 1]
        self.output_size = self.units

    def build(self, input_shape):
        features = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(features, 4 * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
        )
        if self.unit_forget_bias:
            base = self.bias_initializer
            units = self.units

            def bias_initializer(shape, dtype=None):
                return ops.concatenate(
                    [
                        base((units,), dtype=dtype),
                        initializers.get("ones")((units,), dtype=dtype),
                        base((units * 2,), dtype=dtype),
                    ]
                )

        else:
            bias_initializer = self.bias_initializer
        self.bias = self.add_weight(
            shape=(4 * self.units,), name="bias", initializer=bias_initializer
        )
        common = dict(
            max_steps=self.max_steps,
            momentum=self.momentum,
            epsilon=self.epsilon,
            synchronized=self.synchronized,
            gamma_initializer=self.gamma_initializer,
            dtype=self.dtype_policy,
        )
        self.input_norm = RecurrentBatchNormalization(
            center=False, name="input_norm", **common
        )
        self.recurrent_norm = RecurrentBatchNormalization(
            center=False, name="recurrent_norm", **common
        )
        self.cell_norm = RecurrentBatchNormalization(name="cell_norm", **common)

        self.input_norm.build((None, None, 4 * self.units))
        self.recurrent_norm.build((None, None, 4 * self.units))
        self.cell_norm.build((None, None, self.units))

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, self.units), dtype=self.compute_dtype),
            ops.zeros((batch_size, self.units), dtype=self.compute_dtype),
            ops.zeros((batch_size, 1), dtype="int32"),
        ]

    def call(self, inputs, states, training=None):
        h, c, counter = states[0], states[1], states[2]
        step = ops.max(counter)
        x_term = ops.matmul(inputs, self.kernel)
        h_term = ops.matmul(h, self.recurrent_kernel)
        z = (
            self.input_norm.normalize_step(x_term, step, training=training)
            + self.recurrent_norm.normalize_step(
                h_term, step, training=training
            )
            + self.bias
        )
        i, f, g, o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(i)
        f = self.recurrent_activation(f)
        o = self.recurrent_activation(o)
        c = f * c + i * self.activation(g)
        c_hat = self.cell_norm.normalize_step(c, step, training=training)
        h = o * self.activation(c_hat)
        return h, [h, c, counter + 1]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "max_steps": self.max_steps,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(
                self.recurrent_activation
            ),
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer
            ),
            "recurrent_initializer": initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "synchronized": self.synchronized,
        }
