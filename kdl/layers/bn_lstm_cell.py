"""The batch-normalized LSTM cell, BN-LSTM (Cooijmans et al. 2016)."""

import keras
from keras import activations
from keras import initializers
from keras import ops

from kdl import _validation
from kdl.layers.recurrent_batch_normalization import RecurrentBatchNormalization


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
    TF cannot all-reduce across replicas inside a `while_loop`. On JAX,
    train it in `RNN(..., unroll=True)` too: the per-step moving statistics
    are variable assignments, and Keras runs a non-unrolled RNN as a
    `jax.lax.scan`, which cannot assign variables (an eager call drops the
    updates, a compiled `fit` fails with a leaked tracer). Inference, and
    training outputs, are the same in both forms.

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
        self.units = _validation.positive_integer("units", units)
        self.max_steps = _validation.positive_integer("max_steps", max_steps)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = _validation.boolean(
            "unit_forget_bias", unit_forget_bias
        )
        self.gamma_initializer = initializers.get(
            gamma_initializer or initializers.Constant(0.1)
        )
        self.momentum = _validation.number("momentum", momentum, 0, 1)
        self.epsilon = _validation.positive_number("epsilon", epsilon)
        self.synchronized = _validation.boolean("synchronized", synchronized)

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
