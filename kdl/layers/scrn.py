"""SCRN: the structurally constrained recurrent network (Mikolov et al. 2014).

`SCRN` is the fast whole-sequence layer (the cell is `SCRNCell`). It
outputs `[h_t, s_t]` concatenated, so the paper's `y_t = f(U h_t + V s_t)`
is one `Dense` on top.
"""

import keras
from keras import ops

from kdl.layers.scrn_cell import SCRNCell

_CELL_ARGS = (
    "units",
    "context_units",
    "alpha",
    "learn_alpha",
    "context_mode",
    "activation",
    "use_bias",
    "kernel_initializer",
    "context_initializer",
    "context_hidden_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
)


def context_sequence(bx, s0, alpha, mask=None):
    """All context states `s_1..s_T` of `s_t = a s_{t-1} + (1 - a) bx_t`.

    No step-by-step loop: `s_t = a^n_t s_0 + sum_k a^(n_t - n_k) (1-a) bx_k`
    over the unmasked steps `k <= t` (`n_t` counts unmasked steps up to
    `t`), one contraction with a lower-triangular decay matrix. Masked steps
    add nothing and do not decay, so they keep the state.

    Args:
        bx: `(batch, T, C)` projected inputs `B x_t` (float32 or float64).
        s0: `(batch, C)` initial state, same dtype.
        alpha: scalar or `(C,)` decay, same dtype.
        mask: optional `(batch, T)` boolean mask.

    Returns:
        `(batch, T, C)` context states in the dtype of `bx`.
    """
    steps = ops.shape(bx)[1]
    dtype = bx.dtype
    t = ops.arange(steps, dtype=dtype)
    per_unit = len(alpha.shape) == 1
    one_minus = 1.0 - alpha
    u = bx * one_minus
    if mask is None:
        diff = t[:, None] - t[None, :]  # (T, T): t - k
        lower = diff >= 0
        diff = ops.maximum(diff, 0.0)
        count = t + 1.0  # (T,)
        if per_unit:
            decay = ops.where(
                lower[:, :, None], ops.power(alpha, diff[:, :, None]), 0.0
            )  # (T, T, C)
            s = ops.einsum("tkc,bkc->btc", decay, u)
            s = s + ops.power(alpha, count[:, None])[None] * s0[:, None, :]
        else:
            decay = ops.where(lower, ops.power(alpha, diff), 0.0)  # (T, T)
            s = ops.einsum("tk,bkc->btc", decay, u)
            s = s + ops.power(alpha, count)[None, :, None] * s0[:, None, :]
        return s
    m = ops.cast(mask, dtype)  # (B, T)
    n = ops.cumsum(m, axis=1)  # unmasked steps up to t
    diff = n[:, :, None] - n[:, None, :]  # (B, T, T)
    lower = (t[:, None] - t[None, :]) >= 0
    keep = ops.logical_and(lower[None], m[:, None, :] > 0)
    diff = ops.maximum(diff, 0.0)
    if per_unit:
        decay = ops.where(
            keep[..., None], ops.power(alpha, diff[..., None]), 0.0
        )  # (B, T, T, C)
        s = ops.einsum("btkc,bkc->btc", decay, u)
        s = s + ops.power(alpha, n[..., None]) * s0[:, None, :]
    else:
        decay = ops.where(keep, ops.power(alpha, diff), 0.0)
        s = ops.einsum("btk,bkc->btc", decay, u)
        s = s + ops.power(alpha, n)[..., None] * s0[:, None, :]
    return s


def _tf_scan(act, recurrent, zt, mt, h0):
    """The `h` loop as a `tf.while_loop` with `maximum_iterations`.

    TensorFlow only: `keras.ops.scan` on TensorFlow sets no
    `maximum_iterations`, so its gradient cannot be compiled with XLA
    (`jit_compile=True`). Other backends use `keras.ops.scan`.
    """
    import tensorflow as tf

    n = tf.shape(zt)[0]
    z_ta = tf.TensorArray(zt.dtype, size=n, element_shape=zt.shape[1:])
    z_ta = z_ta.unstack(zt)
    if mt is not None:
        m_ta = tf.TensorArray(mt.dtype, size=n, element_shape=mt.shape[1:])
        m_ta = m_ta.unstack(mt)
    out_ta = tf.TensorArray(zt.dtype, size=n, element_shape=h0.shape)

    def body(t, h, out_ta):
        new = act(z_ta.read(t) + tf.matmul(h, recurrent))
        if mt is not None:
            new = tf.where(m_ta.read(t), new, h)
        return t + 1, new, out_ta.write(t, new)

    _, _, out_ta = tf.while_loop(
        lambda t, h, out_ta: t < n,
        body,
        (tf.constant(0, "int32"), h0, out_ta),
        maximum_iterations=n,
    )
    hs = out_ta.stack()
    hs.set_shape(zt.shape)
    return hs


@keras.saving.register_keras_serializable(package="kdl")
class SCRN(keras.layers.RNN):
    """The SCRN layer with a fast whole-sequence implementation.

    Computes the same as `keras.layers.RNN(kdl.layers.SCRNCell(...))` (see
    `SCRNCell` for the equations and most arguments), but:

    - `A x_t` and `B x_t` for all steps are one matmul each;
    - the context `s_t` for all steps comes from one contraction with a
      lower-triangular decay matrix `alpha^(t-k)` (it is a linear
      recurrence), in float32 also under mixed precision;
    - `P s_t` for all steps is one matmul, so only
      `h_t = f(z_t + R h_{t-1})` runs step by step: on TensorFlow a
      `tf.while_loop` with `maximum_iterations` (TF code: `keras.ops.scan`
      on TF sets no iteration bound, so its gradient cannot be compiled
      with XLA), `keras.ops.scan` on other backends, or an unrolled Python
      loop when `unroll=True`.

    The decay matrix costs `O(T^2)` memory per sequence (`O(batch T^2)`
    with a mask, times `context_units` with `learn_alpha`): meant for
    truncated-BPTT lengths (tens to a few hundred steps).

    Masks: a masked step keeps both states (`h`, `s`) and, like Keras RNNs,
    outputs the previous output (zeros before the first unmasked step) or
    zeros when `zero_output_for_mask=True`. `stateful=True` carries the
    states across calls (the batch size must be fixed; `reset_state()`
    zeroes them). `go_backwards=True` reads the sequence in reverse and
    returns outputs in processing order, like Keras RNNs.

    Args:
        units, context_units, alpha, learn_alpha, context_mode, activation,
        use_bias, *_initializer, *_regularizer, *_constraint: as in
            `SCRNCell`.
        return_sequences: return the whole output sequence.
        return_state: also return the final states `h_T, s_T`.
        go_backwards: process the sequence in reverse.
        stateful: carry the final states over to the next batch.
        unroll: run the `h` loop as an unrolled Python loop (static length).
        zero_output_for_mask: zeros as output at masked steps.
        **kwargs: base layer arguments.

    Call arguments:
        sequences: `(batch, T, features)` tensor.
        initial_state: optional list `[h_0, s_0]`.
        mask: optional `(batch, T)` boolean mask.
        training: unused (no dropout).

    Returns:
        `(batch, T, units + context_units)` if `return_sequences`, else
        `(batch, units + context_units)`: `[h_t, s_t]` concatenated. With
        `return_state`, followed by `h_T` and `s_T`.

    Example:

    >>> x = keras.Input((None,), dtype="int32")
    >>> e = keras.layers.Embedding(10000, 100)(x)
    >>> hs = kdl.layers.SCRN(100, 40, return_sequences=True)(e)
    >>> logits = keras.layers.Dense(10000)(hs)   # U h_t + V s_t

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
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        cell = SCRNCell(
            units,
            context_units,
            alpha=alpha,
            learn_alpha=learn_alpha,
            context_mode=context_mode,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            context_initializer=context_initializer,
            context_hidden_initializer=context_hidden_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="scrn_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )

    def __getattr__(self, name):
        # units, context_units, alpha, ... read through to the cell.
        if name in _CELL_ARGS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'"
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        x = sequences
        if mask is not None:
            mask = ops.cast(mask, "bool")
        if self.go_backwards:
            x = ops.flip(x, axis=1)
            if mask is not None:
                mask = ops.flip(mask, axis=1)
        h0 = initial_state[0]
        s0 = initial_state[1]
        dtype = x.dtype
        ax = ops.matmul(x, cell.kernel)
        bx = ops.matmul(x, cell.context_kernel)
        if cell.use_bias:
            ax = ax + cell.bias
            bx = bx + cell.context_bias
        # The context is computed in float32 (float64 for float64 layers).
        ctx = keras.backend.result_type(dtype, "float32")
        alpha = ops.cast(cell.get_alpha(), ctx)
        s_all = context_sequence(
            ops.cast(bx, ctx), ops.cast(s0, ctx), alpha, mask
        )
        s_all = ops.cast(s_all, dtype)
        if cell.context_mode == "current":
            s_used = s_all
        else:
            s_used = ops.concatenate(
                [ops.cast(s0, dtype)[:, None, :], s_all[:, :-1]], axis=1
            )
        z = ax + ops.matmul(s_used, cell.context_hidden_kernel)
        h_all = self._hidden_loop(z, ops.cast(h0, dtype), mask)
        outputs = ops.concatenate([h_all, s_all], axis=-1)
        h_last = h_all[:, -1]
        s_last = s_all[:, -1]
        if mask is not None:
            m = mask[:, :, None]
            if self.zero_output_for_mask:
                outputs = ops.where(m, outputs, ops.zeros_like(outputs))
            else:
                seen = ops.cumsum(ops.cast(mask, "int32"), axis=1) > 0
                outputs = ops.where(
                    seen[:, :, None], outputs, ops.zeros_like(outputs)
                )
        last_output = outputs[:, -1]
        return last_output, outputs, [h_last, s_last]

    def _hidden_loop(self, z, h0, mask):
        """h_t = f(z_t + R h_{t-1}) for all t; masked steps keep h."""
        cell = self.cell
        recurrent = ops.cast(cell.recurrent_kernel, z.dtype)
        act = cell.activation
        steps = z.shape[1]
        if self.unroll:
            if steps is None:
                raise ValueError(
                    "`unroll=True` needs a static sequence length. "
                    f"Received: inputs with shape {z.shape}"
                )
            h = h0
            hs = []
            for t in range(steps):
                new = act(z[:, t] + ops.matmul(h, recurrent))
                if mask is not None:
                    new = ops.where(mask[:, t, None], new, h)
                h = new
                hs.append(h)
            return ops.stack(hs, axis=1)
        zt = ops.transpose(z, (1, 0, 2))
        mt = None if mask is None else ops.transpose(mask, (1, 0))[:, :, None]
        if keras.backend.backend() == "tensorflow":
            hs = _tf_scan(act, recurrent, zt, mt, h0)
        else:
            xs = zt if mt is None else (zt, mt)

            def step(h, inp):
                if mt is None:
                    new = act(inp + ops.matmul(h, recurrent))
                else:
                    new = act(inp[0] + ops.matmul(h, recurrent))
                    new = ops.where(inp[1], new, h)
                return new, new

            _, hs = ops.scan(step, h0, xs)
        return ops.transpose(hs, (1, 0, 2))

    def get_config(self):
        config = {
            name: value
            for name, value in self.cell.get_config().items()
            if name in _CELL_ARGS
        }
        base = super().get_config()
        del base["cell"]
        return {**base, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
