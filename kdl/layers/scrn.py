"""SCRN: the structurally constrained recurrent network (Mikolov et al. 2014).

`SCRN` is the fast whole-sequence layer (the cell is `SCRNCell`). It
outputs `[h_t, s_t]` concatenated, so the paper's `y_t = f(U h_t + V s_t)`
is one `Dense` on top.
"""

import keras
import numpy as np
from keras import ops

from kdl.layers._dtypes import at_least_float32
from kdl.layers.scrn_cell import SCRNCell
from kdl.layers.scrn_cell import apply_activation

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


# Chunk lengths L of the context: the decay inside a chunk is one (L, L)
# matrix without a mask, (T / L, batch, L, L) with a mask; with a mask and
# per-unit alpha the L steps are an unrolled recurrence.
CHUNK_SIZE = 64
_MASKED_CHUNK_SIZE = 32
_MASKED_PER_UNIT_CHUNK_SIZE = 16


def context_sequence(
    bx, s0, alpha, mask=None, chunk_size=None, time_major=False
):
    """All context states `s_1..s_T` of `s_t = a s_{t-1} + (1 - a) bx_t`.

    No step-by-step loop over `t`, and time and memory linear in `T`: the
    sequence is cut into chunks of `L` steps. Inside a chunk, the states
    from a zero start are one contraction with the `(L, L)` decay matrix
    `a^(n_i - n_j)` (`n_i` counts the unmasked steps up to `i`); the
    states entering the chunks then follow the short linear recurrence
    `c_{k+1} = a^(unmasked steps of chunk k) c_k + (end state of chunk k)`
    over the `T / L` chunks, and `s = local + a^(n_i) c_k`. Masked steps
    add nothing and do not decay, so they keep the state. A sequence of
    static length `<= L` is one chunk (no recurrence at all).

    Args:
        bx: `(batch, T, C)` projected inputs `B x_t` (float32 or float64);
            `(T, batch, C)` if `time_major`.
        s0: `(batch, C)` initial state, same dtype.
        alpha: a Python float (a fixed decay: the decay matrix is a
            constant), or a scalar or `(C,)` tensor of the dtype of `bx`.
        mask: optional `(batch, T)` boolean mask (`(T, batch)` if
            `time_major`).
        chunk_size: optional chunk length `L` (default: 64 without a mask,
            32 with a mask, 16 with a mask and per-unit `alpha`).
        time_major: whether time is the first axis of `bx` and `mask`.

    Returns:
        The context states, shaped like `bx`, in its dtype.
    """
    if not time_major:
        bx = ops.transpose(bx, (1, 0, 2))
        if mask is not None:
            mask = ops.transpose(mask, (1, 0))
        s = context_sequence(bx, s0, alpha, mask, chunk_size, True)
        return ops.transpose(s, (1, 0, 2))
    fixed = isinstance(alpha, (int, float))
    per_unit = not fixed and len(alpha.shape) == 1
    if chunk_size is None:
        if mask is None:
            chunk_size = CHUNK_SIZE
        elif per_unit:
            chunk_size = _MASKED_PER_UNIT_CHUNK_SIZE
        else:
            chunk_size = _MASKED_CHUNK_SIZE
    u = bx * (1.0 - alpha)
    m = None
    if mask is not None:  # masked inputs add nothing (even inf or NaN)
        mask = ops.cast(mask, "bool")
        u = ops.where(mask[..., None], u, 0.0)
        m = ops.cast(mask, bx.dtype)
    static_steps = bx.shape[0]
    if static_steps is not None and static_steps <= chunk_size:
        # One chunk: a leading axis of 1 (reshapes, not slices: their
        # gradients are reshapes too).
        local, decay = _chunk_context(
            ops.expand_dims(u, 0),
            alpha,
            m if m is None else ops.expand_dims(m, 0),
        )
        return ops.squeeze(local + decay * s0, 0)
    steps = ops.shape(bx)[0]
    batch = ops.shape(bx)[1]
    units = bx.shape[2]
    pad = (-steps) % chunk_size
    u = ops.pad(u, [[0, pad], [0, 0], [0, 0]])
    num_chunks = (steps + pad) // chunk_size
    u = ops.reshape(u, (num_chunks, chunk_size, batch, units))
    if m is not None:
        m = ops.pad(m, [[0, pad], [0, 0]])
        m = ops.reshape(m, (num_chunks, chunk_size, batch))
    local, decay = _chunk_context(u, alpha, m)
    # The decay over a whole chunk: (1, 1|C), or (chunks, batch, 1|C).
    chunk_decay = decay[:, -1]
    if m is None:
        chunk_decay = chunk_decay[0]
    entering = _carry(chunk_decay, local[:, -1], s0)  # (chunks, batch, C)
    s = local + decay * entering[:, None]
    return ops.reshape(s, (-1, batch, units))[:steps]


def _check_rank(shape):
    """SCRN reads `(batch, T, features)`: any other rank is a ValueError."""
    if len(shape) != 3:
        raise ValueError(
            "`inputs` to SCRN must have rank 3 (batch, timesteps, "
            f"features). Received: inputs with shape {tuple(shape)}"
        )


def _chunk_context(u, alpha, m):
    """Context states inside each chunk from a zero start (time-major).

    Args:
        u: `(chunks, L, batch, C)` inputs `(1 - a) B x_t`.
        alpha: a Python float, or a scalar or `(C,)` tensor.
        m: optional `(chunks, L, batch)` float mask.

    Returns:
        `(local, decay)`: the states, shaped like `u`, and the decay
        `a^(n_i)` from the chunk start to step `i`, broadcastable to them.
    """
    length = u.shape[1]
    if m is None and isinstance(alpha, (int, float)):
        i = np.arange(length)
        diff = i[:, None] - i[None, :]
        mat = np.where(diff >= 0, float(alpha) ** np.maximum(diff, 0), 0.0)
        mat = ops.convert_to_tensor(mat, u.dtype)
        decay = float(alpha) ** (i[None, :, None, None] + 1.0)
        local = _time_matmul(mat, u)
        return local, ops.convert_to_tensor(decay, u.dtype)
    alpha = ops.convert_to_tensor(alpha, u.dtype)
    per_unit = len(alpha.shape) == 1
    i = ops.arange(length, dtype=u.dtype)
    lower = (i[:, None] - i[None, :]) >= 0  # (L, L): j <= i
    if m is None:
        diff = ops.maximum(i[:, None] - i[None, :], 0.0)
        count = (i + 1.0)[None, :, None, None]
        if per_unit:
            mat = ops.where(
                lower[:, :, None], ops.power(alpha, diff[:, :, None]), 0.0
            )  # (L, L, C)
            local = ops.einsum("ijc,njbc->nibc", mat, u)
            return local, ops.power(alpha, count)
        mat = ops.where(lower, ops.power(alpha, diff), 0.0)
        return _time_matmul(mat, u), ops.power(alpha, count)
    if per_unit:
        return _chunk_scan(u, alpha, m)
    n = ops.cumsum(m, axis=1)  # (chunks, L, batch): unmasked steps up to i
    nb = ops.transpose(n, (0, 2, 1))  # (chunks, batch, L)
    diff = ops.maximum(nb[..., :, None] - nb[..., None, :], 0.0)
    seen = ops.transpose(m, (0, 2, 1))[..., None, :] > 0
    keep = ops.logical_and(lower, seen)  # (chunks, batch, L, L)
    mat = ops.where(keep, ops.power(alpha, diff), 0.0)
    local = ops.einsum("nbij,njbc->nibc", mat, u)
    return local, ops.power(alpha, n[..., None])


def _chunk_scan(u, alpha, m):
    """`_chunk_context` with a mask and per-unit `alpha`: the decay tensor
    would be `(chunks, batch, L, L, C)`, so the `L` steps of all chunks are
    run as an unrolled recurrence instead (memory like `u`)."""
    steps = ops.unstack(u, axis=1)
    decays = ops.unstack(ops.where(m[..., None] > 0, alpha, 1.0), axis=1)
    local, decay = [steps[0]], [decays[0]]
    for u_i, a_i in zip(steps[1:], decays[1:]):
        local.append(a_i * local[-1] + u_i)
        decay.append(a_i * decay[-1])
    return ops.stack(local, axis=1), ops.stack(decay, axis=1)


def _time_matmul(mat, u):
    """`(L, L)` times `(chunks, L, batch, C)` along the time axis."""
    shape = ops.shape(u)
    if u.shape[0] == 1:
        local = ops.matmul(mat, ops.reshape(u, (shape[1], -1)))
    else:
        flat = ops.reshape(u, (shape[0], shape[1], -1))
        local = ops.einsum("ij,njx->nix", mat, flat)
    return ops.reshape(local, shape)


def _carry(decay, ends, s0):
    """The states entering each chunk: `c_0 = s0`,
    `c_{k+1} = decay_k c_k + ends_k`.

    Args:
        decay: `(chunks, batch, 1|C)` per chunk, or the same for all
            chunks: `(1, 1|C)`.
        ends: `(chunks, batch, C)` chunk end states from a zero start.
        s0: `(batch, C)`.

    Returns:
        `(chunks, batch, C)`.

    TensorFlow: a `tf.while_loop` with `maximum_iterations`, like
    `_tf_hidden` (differentiable under XLA); other backends:
    `keras.ops.scan`.
    """
    per_chunk = len(decay.shape) == 3
    if keras.backend.backend() != "tensorflow":
        xs = (decay, ends) if per_chunk else ends

        def step(c, inp):
            d, e = inp if per_chunk else (decay, inp)
            return d * c + e, c

        _, entering = ops.scan(step, s0, xs)
        return entering
    import tensorflow as tf

    n = tf.shape(ends)[0]
    e_ta = tf.TensorArray(ends.dtype, size=n, element_shape=ends.shape[1:])
    e_ta = e_ta.unstack(ends)
    if per_chunk:
        d_ta = tf.TensorArray(decay.dtype, size=n)
        d_ta = d_ta.unstack(decay)
    out = tf.TensorArray(ends.dtype, size=n, element_shape=s0.shape)

    def body(k, c, out):
        d = d_ta.read(k) if per_chunk else decay
        return k + 1, d * c + e_ta.read(k), out.write(k, c)

    _, _, out = tf.while_loop(
        lambda k, c, out: k < n,
        body,
        (tf.constant(0, "int32"), s0, out),
        maximum_iterations=n,
    )
    entering = out.stack()
    entering.set_shape(ends.shape)
    return entering


# d act(z) / dz written from the output h = act(z), for the activations
# whose hidden loop has a hand-written backward pass.
_DERIVATIVES = {
    "sigmoid": lambda h: h * (1.0 - h),
    "tanh": lambda h: 1.0 - h * h,
    "relu": lambda h: ops.cast(h > 0, h.dtype),
    "linear": lambda h: ops.ones_like(h),
}


def _derivative(activation):
    for name, fn in _DERIVATIVES.items():
        if activation is keras.activations.get(name):
            return fn
    return None


# Static lengths up to this run the TF hidden loop fully unrolled.
_MAX_UNROLLED = 64


def _steps_per_iteration(steps):
    """How many steps one loop iteration runs (fewer iterations cost less
    loop overhead): the whole sequence up to `_MAX_UNROLLED` steps (then
    `_tf_hidden` runs it as straight-line code), else the 4..8 that wastes
    the fewest padding steps (4 for an unknown length)."""
    if steps is None:
        return 4
    if steps <= _MAX_UNROLLED:
        return max(steps, 1)
    return min(range(8, 3, -1), key=lambda k: (-steps) % k)


def _tf_hidden(act, derivative, recurrent, zt, mt, h0):
    """`h_t = act(z_t + h_{t-1} R)` (time-major) on TensorFlow.

    TensorFlow only (no `keras.ops` form): a `tf.while_loop` with
    `maximum_iterations` (`keras.ops.scan` on TF sets none, so its gradient
    cannot be compiled with XLA), one matmul per step and 4 to 8 steps per
    iteration (the sequence is padded at the end to a multiple: the extra
    steps are dropped and get no gradient); a static length up to
    `_MAX_UNROLLED` steps is unrolled completely, without a loop. For
    sigmoid, tanh, relu and linear, a `tf.custom_gradient` runs
    backpropagation through time as one reverse loop with one matmul per
    step (`dz_t = (dh_t + c_t) act'(h_t)`, `c_{t-1} = dz_t R^T`) and the
    gradient of `R` is one matmul over all steps afterwards; TF's automatic
    gradient of the loop would also save every step's intermediates in the
    forward pass and do two matmuls and an accumulation per step backward.
    Masked steps (`mt` false) keep `h` and pass the gradient through.
    """
    import tensorflow as tf

    dtype = zt.dtype
    steps = tf.shape(zt)[0]
    per_iter = _steps_per_iteration(zt.shape[0])
    padded = zt.shape[0] is None or zt.shape[0] % per_iter
    pad = (-steps) % per_iter
    if padded:
        zt = tf.pad(zt, [[0, pad], [0, 0], [0, 0]])
        if mt is not None:
            mt = tf.pad(mt, [[0, pad], [0, 0], [0, 0]])
    n = steps + pad
    iterations = n // per_iter
    # Tensors, not variables (stateful states, the kernel), for the
    # custom gradient.
    h0 = tf.convert_to_tensor(h0)
    recurrent = tf.convert_to_tensor(recurrent)

    def unstack(x):
        ta = tf.TensorArray(x.dtype, size=n, element_shape=x.shape[1:])
        return ta.unstack(x)

    # A short sequence of static length runs as straight-line code, with
    # no loop and no TensorArray overhead.
    unrolled = not padded and zt.shape[0] <= _MAX_UNROLLED

    def forward_unrolled(zt, h0, recurrent):
        masks = [None] * zt.shape[0] if mt is None else tf.unstack(mt)
        h, hs = h0, []
        for z, m in zip(tf.unstack(zt), masks):
            new = act(z + tf.matmul(h, recurrent))
            h = new if m is None else tf.where(m, new, h)
            hs.append(h)
        return tf.stack(hs)

    def grad_unrolled(dhs, d, keep):
        c, dzs = tf.zeros_like(h0), [None] * len(d)
        for k in reversed(range(len(d))):
            g = dhs[k] + c
            dzs[k] = g * d[k]
            c = tf.matmul(dzs[k], recurrent, transpose_b=True)
            if keep is not None:
                c = c + g * keep[k]
        return tf.stack(dzs), c

    def forward(zt, h0, recurrent):
        if unrolled:
            return forward_unrolled(zt, h0, recurrent)
        z_ta = unstack(zt)
        m_ta = None if mt is None else unstack(mt)
        out = tf.TensorArray(dtype, size=n, element_shape=h0.shape)

        def body(t, h, out):
            for i in range(per_iter):
                k = t + i if i else t
                new = act(z_ta.read(k) + tf.matmul(h, recurrent))
                if m_ta is not None:
                    new = tf.where(m_ta.read(k), new, h)
                h = new
                out = out.write(k, h)
            return t + per_iter, h, out

        _, _, out = tf.while_loop(
            lambda t, h, out: t < n,
            body,
            (tf.constant(0, "int32"), h0, out),
            maximum_iterations=iterations,
        )
        hs = out.stack()
        hs.set_shape(zt.shape)
        return hs

    if derivative is None:
        hs = forward(zt, h0, recurrent)
        return hs[:steps] if padded else hs

    @tf.custom_gradient
    def hidden(zt, h0, recurrent):
        hs = forward(zt, h0, recurrent)

        def grad(dhs):
            d = derivative(hs)
            keep = None
            if mt is not None:
                d = tf.where(mt, d, tf.zeros_like(d))
                keep = tf.cast(tf.logical_not(mt), dtype)
            if unrolled:
                dz, dh0 = grad_unrolled(
                    tf.unstack(dhs),
                    tf.unstack(d),
                    None if keep is None else tf.unstack(keep),
                )
                return dz, dh0, d_weights(dz)
            p_ta = None if keep is None else unstack(keep)
            g_ta = unstack(dhs)
            d_ta = unstack(d)
            dz_ta = tf.TensorArray(dtype, size=n, element_shape=h0.shape)

            def body(t, c, dz_ta):
                for i in range(per_iter):
                    k = t - i if i else t
                    g = g_ta.read(k) + c
                    dz = g * d_ta.read(k)
                    c = tf.matmul(dz, recurrent, transpose_b=True)
                    if p_ta is not None:
                        c = c + g * p_ta.read(k)
                    dz_ta = dz_ta.write(k, dz)
                return t - per_iter, c, dz_ta

            _, dh0, dz_ta = tf.while_loop(
                lambda t, c, dz_ta: t >= 0,
                body,
                (n - 1, tf.zeros_like(h0), dz_ta),
                maximum_iterations=iterations,
            )
            dz = dz_ta.stack()
            dz.set_shape(zt.shape)
            return dz, dh0, d_weights(dz)

        def d_weights(dz):
            h_prev = tf.concat([h0[None], hs[:-1]], axis=0)
            units = recurrent.shape[0]
            return tf.matmul(
                tf.reshape(h_prev, (-1, units)),
                tf.reshape(dz, (-1, units)),
                transpose_a=True,
            )

        return hs, grad

    hs = hidden(zt, h0, recurrent)
    return hs[:steps] if padded else hs


@keras.saving.register_keras_serializable(package="kdl")
class SCRN(keras.layers.RNN):
    """The SCRN layer with a fast whole-sequence implementation.

    Computes the same as `keras.layers.RNN(kdl.layers.SCRNCell(...))` (see
    `SCRNCell` for the equations and most arguments), but:

    - `A x_t` and `B x_t` for all steps are one matmul;
    - the context `s_t` for all steps is computed without a step loop (it
      is a linear recurrence, see `context_sequence`): in chunks of 64
      steps, one matmul with the `(64, 64)` decay matrix (a constant for a
      fixed `alpha`) inside each chunk and a short recurrence over the
      `T / 64` chunk boundaries, so time and memory are linear in `T`
      (a sequence of static length <= 64 is one chunk, no recurrence at
      all). With a mask the decay depends on
      the batch row (chunks of 32 steps; of 16 steps run as an unrolled
      recurrence with a mask and `learn_alpha`); with `learn_alpha` it is
      per unit and differentiable in `alpha`. The context is float32 also
      under mixed precision;
    - `P s_t` for all steps is one matmul, so only
      `h_t = f(z_t + R h_{t-1})` runs step by step, one matmul per step:
      on TensorFlow a `tf.while_loop` with `maximum_iterations` running 4
      to 8 steps per iteration, with a hand-written backward pass (one
      matmul per step, the gradient of `R` one matmul over all steps) for
      sigmoid, tanh, relu and linear activations (TF code: `keras.ops.scan`
      on TF sets no iteration bound, so its gradient cannot be compiled
      with XLA; the backward pass is a `tf.custom_gradient`);
      `keras.ops.scan` on other backends; an unrolled Python loop when
      `unroll=True`.

    Training and inference compute the same (no dropout). Speed (Keras's
    default compile, which is no XLA on a CPU, and XLA) against
    `SimpleRNN(units)` and `LSTM(units)`, and the time of a long sequence
    against a short one, are measured by `benchmarks/scrn_speed.py`.

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
        sequences: `(batch, T, features)` tensor (any other rank is a
            `ValueError`).
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

    def build(self, sequences_shape, initial_state_shape=None):
        _check_rank(sequences_shape)
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        _check_rank(sequences.shape)
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        # Time-major throughout: the projections are 2-D matmuls, the
        # context a matmul along time, and the loop reads z_t directly.
        x = ops.transpose(sequences, (1, 0, 2))
        if mask is not None:
            mask = ops.transpose(ops.cast(mask, "bool"), (1, 0))
        if self.go_backwards:
            x = ops.flip(x, axis=0)
            if mask is not None:
                mask = ops.flip(mask, axis=0)
        dtype = x.dtype
        h0 = ops.cast(initial_state[0], dtype)
        s0 = initial_state[1]
        steps, batch = ops.shape(x)[0], ops.shape(x)[1]
        flat = ops.reshape(x, (-1, x.shape[-1]))
        # A x_t and B x_t for all steps: one matmul.
        kernel = ops.concatenate([cell.kernel, cell.context_kernel], axis=1)
        projected = ops.matmul(flat, kernel)
        if cell.use_bias:
            bias = ops.concatenate([cell.bias, cell.context_bias], axis=0)
            projected = projected + bias
        ax, bx = ops.split(projected, [cell.units], axis=1)
        bx = ops.reshape(bx, (steps, batch, cell.context_units))
        # The context is computed in float32 (float64 for float64 layers).
        ctx = at_least_float32(dtype)
        if cell.learn_alpha:
            alpha = ops.cast(cell.get_alpha(), ctx)
        else:  # a Python float: the decay matrix is a constant
            alpha = cell.alpha
        s_all = context_sequence(
            ops.cast(bx, ctx), ops.cast(s0, ctx), alpha, mask, time_major=True
        )
        s_all = ops.cast(s_all, dtype)
        if cell.context_mode == "current":
            s_used = s_all
        else:
            s_used = ops.concatenate(
                [ops.cast(s0, dtype)[None], s_all[:-1]], axis=0
            )
        z = ax + ops.matmul(
            ops.reshape(s_used, (-1, cell.context_units)),
            cell.context_hidden_kernel,
        )
        z = ops.reshape(z, (steps, batch, cell.units))
        h_all = self._hidden_loop(z, h0, mask)
        outputs = ops.concatenate([h_all, s_all], axis=-1)
        states = [h_all[-1], s_all[-1]]
        if mask is not None:
            if self.zero_output_for_mask:
                keep = mask
            else:  # zeros before the first unmasked step
                keep = ops.cumsum(ops.cast(mask, "int32"), axis=0) > 0
            outputs = ops.where(keep[..., None], outputs, 0.0)
        outputs = ops.transpose(outputs, (1, 0, 2))
        return outputs[:, -1], outputs, states

    def _hidden_loop(self, zt, h0, mask):
        """h_t = f(z_t + R h_{t-1}) for all t (time-major); masked steps
        keep h."""
        cell = self.cell
        recurrent = ops.cast(cell.recurrent_kernel, zt.dtype)
        act = cell.activation
        mt = None if mask is None else mask[:, :, None]
        if self.unroll:
            steps = zt.shape[0]
            if steps is None:
                raise ValueError(
                    "`unroll=True` needs a static sequence length. "
                    f"Received: inputs with shape {zt.shape}"
                )
            h = h0
            hs = []
            for t in range(steps):
                new = apply_activation(act, zt[t] + ops.matmul(h, recurrent))
                if mt is not None:
                    new = ops.where(mt[t], new, h)
                h = new
                hs.append(h)
            return ops.stack(hs, axis=0)
        if keras.backend.backend() == "tensorflow":
            return _tf_hidden(act, _derivative(act), recurrent, zt, mt, h0)
        xs = zt if mt is None else (zt, mt)

        def step(h, inp):
            z = inp if mt is None else inp[0]
            # In h's dtype: Keras computes a float64 tanh in float32 on JAX.
            new = apply_activation(act, z + ops.matmul(h, recurrent))
            if mt is not None:
                new = ops.where(inp[1], new, h)
            return new, new

        _, hs = ops.scan(step, h0, xs)
        return hs

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
