"""The SCRN cell (Mikolov et al. 2014), one step for `keras.layers.RNN`.

It outputs `[h_t, s_t]` concatenated, so the paper's
`y_t = f(U h_t + V s_t)` is one `Dense` on top.
"""

import keras
import numpy as np
from keras import activations
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from kdl import _validation
from kdl.layers._dtypes import at_least_float32

_CONTEXT_MODES = ("current", "previous")


def _tanh_from_expm1(z):
    """`tanh(z)` in the dtype of `z`, exact to rounding: with
    `e = expm1(-2 |z|)`, `tanh(|z|) = -e / (2 + e)` (no overflow, no
    cancellation near 0), and the sign of `z` put back. `|z|` is a `where`,
    not `abs`, so the gradient at 0 is 1."""
    positive = z >= 0
    e = ops.expm1(-2.0 * ops.where(positive, z, -z))
    t = -e / (2.0 + e)
    return ops.where(positive, t, -t)


def apply_activation(activation, z):
    """`activation(z)` in the dtype of `z`.

    Keras computes `ops.tanh` (so `keras.activations.tanh`) of a float64
    tensor in float32 on JAX (its `result_type(float64, float)` is
    float32 there), which would make a float64 SCRN float32 in part. Then
    tanh is computed from `ops.expm1` in float64 instead; any other
    activation that returns another dtype is cast back. On TensorFlow, and
    in float32 and half precision, this is `activation(z)`.
    """
    h = activation(z)
    dtype = keras.backend.standardize_dtype(z.dtype)
    if keras.backend.standardize_dtype(h.dtype) == dtype:
        return h
    if activation is activations.tanh:
        return _tanh_from_expm1(z)
    return ops.cast(h, dtype)


@keras.saving.register_keras_serializable(package="kdl")
class SCRNCell(keras.layers.Layer):
    """One step of the structurally constrained recurrent network.

    The equations (Mikolov et al. 2014, section 3):

    ```
    s_t = (1 - alpha) B x_t + alpha s_{t-1}          # slow context
    h_t = f(P s_t + A x_t + R h_{t-1})               # fast hidden
    output_t = [h_t, s_t]                            # y_t = g(U h_t + V s_t)
    ```

    `context_mode="previous"` feeds `s_{t-1}` instead of `s_t` into `h_t`,
    as the authors' Torch code does. With `learn_alpha=True` each context
    unit has its own `alpha = sigmoid(alpha_logit)`, kept in (0, 1);
    otherwise `alpha` is a fixed constant (the paper uses 0.95). The
    authors use no biases (`use_bias=False`, the default).

    Use it inside `keras.layers.RNN(SCRNCell(...))`; `kdl.layers.SCRN` is
    the same computation with a fast whole-sequence implementation. On JAX
    with a mask, use `RNN(..., unroll=True)` (or `SCRN`): Keras's JAX scan
    keeps the first state (`h_t`) as the output of masked steps, which is
    not this cell's `[h_t, s_t]` output, and fails on the shapes.

    Args:
        units: positive int, size of the hidden state `h`.
        context_units: positive int, size of the context state `s`.
        alpha: float in [0, 1], the context decay (initial value if
            learnable, then in (0, 1)).
        learn_alpha: bool, learn one `alpha` per context unit.
        context_mode: `"current"` (paper, `s_t`) or `"previous"` (authors'
            code, `s_{t-1}`) in the hidden update.
        activation: activation of the hidden units (default sigmoid).
        use_bias: bool, add biases to `h` and to the context input.
        kernel_initializer: initializer of `A` (input -> hidden).
        context_initializer: initializer of `B` (input -> context).
        context_hidden_initializer: initializer of `P` (context -> hidden).
        recurrent_initializer: initializer of `R` (hidden -> hidden).
        bias_initializer: initializer of the biases.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            optional regularizers (the first covers `A`, `B`, `P`).
        kernel_constraint, recurrent_constraint, bias_constraint:
            optional constraints (same grouping).
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, features)` tensor `x_t`.
        states: list `[h_{t-1}, s_{t-1}]`.
        training: unused (no dropout).

    Returns:
        `(output, [h_t, s_t])` with `output = concat([h_t, s_t], -1)` of
        shape `(batch, units + context_units)`.

    Example:

    >>> rnn = keras.layers.RNN(kdl.layers.SCRNCell(100, 40))
    >>> y = rnn(np.zeros((2, 5, 8), "float32"))   # (2, 140)

    Reference:
        Mikolov, Joulin, Chopra, Mathieu, Ranzato. Learning Longer Memory in
        Recurrent Neural Networks. arXiv:1412.7753, 2014.
    """

    def __init__(
        self,
        units,
        context_units,
        alpha=0.95,
        learn_alpha=False,
        context_mode="current",
        activation="sigmoid",
        use_bias=False,
        kernel_initializer="glorot_uniform",
        context_initializer="glorot_uniform",
        context_hidden_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.positive_integer("units", units)
        self.context_units = _validation.positive_integer(
            "context_units", context_units
        )
        self.alpha = _validation.number("alpha", alpha, 0, 1)
        self.learn_alpha = _validation.boolean("learn_alpha", learn_alpha)
        if self.learn_alpha and not 0.0 < self.alpha < 1.0:
            raise ValueError(
                "With `learn_alpha=True`, `alpha` (the initial value) must be "
                f"in (0, 1). Received: alpha={alpha}"
            )
        self.context_mode = _validation.one_of(
            "context_mode", context_mode, _CONTEXT_MODES
        )
        self.activation = activations.get(activation)
        self.use_bias = _validation.boolean("use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.context_initializer = initializers.get(context_initializer)
        self.context_hidden_initializer = initializers.get(
            context_hidden_initializer
        )
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.state_size = [self.units, self.context_units]
        self.output_size = self.units + self.context_units

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(
                "The last dimension of the SCRN input must be known. "
                f"Received: input_shape={input_shape}"
            )
        kw = dict(
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.kernel = self.add_weight(
            shape=(dim, self.units),
            initializer=self.kernel_initializer,
            name="kernel",
            **kw,
        )
        self.context_kernel = self.add_weight(
            shape=(dim, self.context_units),
            initializer=self.context_initializer,
            name="context_kernel",
            **kw,
        )
        self.context_hidden_kernel = self.add_weight(
            shape=(self.context_units, self.units),
            initializer=self.context_hidden_initializer,
            name="context_hidden_kernel",
            **kw,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            kw = dict(
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            self.bias = self.add_weight(shape=(self.units,), name="bias", **kw)
            self.context_bias = self.add_weight(
                shape=(self.context_units,), name="context_bias", **kw
            )
        else:
            self.bias = None
            self.context_bias = None
        if self.learn_alpha:
            logit = float(np.log(self.alpha / (1.0 - self.alpha)))
            self.alpha_logit = self.add_weight(
                shape=(self.context_units,),
                initializer=initializers.Constant(logit),
                name="alpha_logit",
                autocast=False,
            )
        else:
            self.alpha_logit = None

    def get_alpha(self):
        """The decay (float32, float64 for float64 layers): a scalar, or one
        per context unit when learnable."""
        dtype = at_least_float32(self.variable_dtype)
        if self.learn_alpha:
            return ops.sigmoid(ops.cast(self.alpha_logit, dtype))
        return ops.convert_to_tensor(self.alpha, dtype)

    def call(self, inputs, states, training=None):
        h_prev, s_prev = states[0], states[1]
        dtype = inputs.dtype
        alpha = ops.cast(self.get_alpha(), dtype)
        bx = ops.matmul(inputs, self.context_kernel)
        if self.use_bias:
            bx = bx + self.context_bias
        s = alpha * s_prev + (1.0 - alpha) * bx
        s_used = s if self.context_mode == "current" else s_prev
        z = (
            ops.matmul(inputs, self.kernel)
            + ops.matmul(s_used, self.context_hidden_kernel)
            + ops.matmul(h_prev, self.recurrent_kernel)
        )
        if self.use_bias:
            z = z + self.bias
        h = apply_activation(self.activation, z)
        return ops.concatenate([h, s], axis=-1), [h, s]

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, self.units), dtype=self.compute_dtype),
            ops.zeros(
                (batch_size, self.context_units), dtype=self.compute_dtype
            ),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "context_units": self.context_units,
            "alpha": self.alpha,
            "learn_alpha": self.learn_alpha,
            "context_mode": self.context_mode,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer
            ),
            "context_initializer": initializers.serialize(
                self.context_initializer
            ),
            "context_hidden_initializer": initializers.serialize(
                self.context_hidden_initializer
            ),
            "recurrent_initializer": initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(
                self.kernel_regularizer
            ),
            "recurrent_regularizer": regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }
