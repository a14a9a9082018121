"""The whole-sequence SCRN layer against NumPy and the cell."""

from unittest import mock

import keras
import numpy as np
from keras import ops

from kdl.layers import SCRN
from kdl.layers import SCRNCell
from kdl.layers import scrn
from kdl.models import custom_steps
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import gradients
from tests.test_case import jit
from tests.test_case import jit_call
from tests.test_case import skip_unless_tensorflow


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_scrn(
    x,
    weights,
    alpha,
    context_mode="current",
    mask=None,
    h0=None,
    s0=None,
    activation=_sigmoid,
):
    """The paper's equations, step by step (Mikolov et al. 2014, eq. 4-6).

    s_t = (1 - alpha) B x_t + alpha s_{t-1}
    h_t = sigmoid(P s_t + A x_t + R h_{t-1})   ("previous": P s_{t-1})
    A masked step keeps h and s. `activation` replaces the sigmoid.
    """
    a, b, p, r = weights[:4]
    bias = weights[4] if len(weights) > 4 else 0.0
    ctx_bias = weights[5] if len(weights) > 5 else 0.0
    batch, steps, _ = x.shape
    h = np.zeros((batch, r.shape[0])) if h0 is None else h0
    s = np.zeros((batch, b.shape[1])) if s0 is None else s0
    hs, ss = [], []
    for t in range(steps):
        s_new = (1 - alpha) * (x[:, t] @ b + ctx_bias) + alpha * s
        s_in = s_new if context_mode == "current" else s
        h_new = activation(s_in @ p + x[:, t] @ a + h @ r + bias)
        if mask is not None:
            m = mask[:, t, None]
            s_new = np.where(m, s_new, s)
            h_new = np.where(m, h_new, h)
        h, s = h_new, s_new
        hs.append(h)
        ss.append(s)
    return np.stack(hs, 1), np.stack(ss, 1)


def numpy_context(bx, s0, alpha, mask=None):
    """s_t = alpha s_{t-1} + (1 - alpha) bx_t step by step (batch-major);
    a masked step keeps s."""
    s, out = s0, []
    for t in range(bx.shape[1]):
        new = alpha * s + (1 - alpha) * bx[:, t]
        if mask is not None:
            new = np.where(mask[:, t, None], new, s)
        s = new
        out.append(s)
    return np.stack(out, 1)


# The reference `RNN(SCRNCell)` is unrolled on JAX: Keras's JAX scan
# masks outputs with the first state (h), not SCRNCell's [h, s] output.
REF_UNROLL = {"unroll": True} if backend() == "jax" else {}


def _pair(
    kw, alpha=0.7, learn_alpha=False, dtype=None, unroll_ref=True, **cell
):
    """SCRN(4, 3) and RNN(SCRNCell(4, 3)) with the same arguments (the
    reference unrolled on JAX unless `unroll_ref=False`: without a mask
    its scan is right, and cheaper than an eager unrolled loop)."""
    cell = dict(alpha=alpha, learn_alpha=learn_alpha, dtype=dtype, **cell)
    fast = SCRN(4, 3, **cell, **kw)
    ref = keras.layers.RNN(
        SCRNCell(4, 3, **cell),
        dtype=dtype,
        **kw,
        **(REF_UNROLL if unroll_ref else {}),
    )
    return fast, ref


class _MaskedCellScan:
    """`RNN(cell, return_sequences=True, return_state=True)` with a mask,
    written out as one `ops.scan`: Keras's masking rule (a masked step
    keeps the states and repeats the previous output, zeros before the
    first kept step; `go_backwards` reads time reversed and returns the
    outputs in that order). The masked reference on JAX, where Keras's own
    scan masks the output with `h` alone and its unrolled loop compiles a
    program whose size grows with the length."""

    def __init__(self, rnn):
        self.cell = rnn.cell
        self.go_backwards = rnn.go_backwards
        self.trainable_variables = rnn.trainable_variables

    def __call__(self, x, mask, initial_state):
        xs = ops.transpose(ops.convert_to_tensor(x), (1, 0, 2))
        ms = ops.transpose(ops.convert_to_tensor(mask), (1, 0))
        if self.go_backwards:
            xs, ms = ops.flip(xs, 0), ops.flip(ms, 0)
        batch = ops.shape(xs)[1]
        width = self.cell.units + self.cell.context_units
        start = ops.zeros((batch, width), xs.dtype)

        def step(carry, inputs):
            *states, previous = carry
            x_t, m_t = inputs
            output, new_states = self.cell(x_t, list(states))
            keep = m_t[:, None]
            states = [ops.where(keep, n, s) for n, s in zip(new_states, states)]
            output = ops.where(keep, output, previous)
            # (TensorFlow's `ops.scan` stacks outputs like the carry.)
            return (*states, output), (*states, output)

        (*states, _), stacked = ops.scan(
            step, (*initial_state, start), (xs, ms)
        )
        return [ops.transpose(stacked[-1], (1, 0, 2)), *states]


def _grads(layer, x, mask=None, initial_state=None):
    """Outputs and gradients of a loss on every output (and the states):
    the initial states' gradients first, then the weights'."""

    def loss(*state):
        out = layer(x, mask=mask, initial_state=list(state) or None)
        total = sum(
            ops.sum(ops.sin(o * (i + 1.0)))
            for i, o in enumerate(keras.tree.flatten(out))
        )
        return total, out

    (_, out), grads = gradients(
        loss, initial_state or (), layer.trainable_variables, has_aux=True
    )
    return out, grads


def _run(layer, x, **kwargs):
    """`layer(x, **kwargs)`; on JAX one compiled program (`jit_call`)
    instead of every op of the call compiled on its own, per shape."""
    if backend() == "jax":
        return jit_call(layer, x, **kwargs)
    return layer(x, **kwargs)


def _compiled(fn):
    """`fn`; on JAX compiled whole for its first two (array) arguments,
    the others fixed (Python values stay Python values)."""
    if backend() != "jax":
        return fn

    def call(x, s, *args, **kwargs):
        return jit(lambda x, s: fn(x, s, *args, **kwargs))(x, s)

    return call


class SCRNTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.RandomState(0)
        self.x = rng.normal(size=(4, 6, 5)).astype("float32")

    def _random_weights(self, layer):
        rng = np.random.RandomState(1)
        layer.set_weights(
            [rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()]
        )

    def test_cell_and_layer_match_numpy_paper(self):
        for mode in ("current", "previous"):
            for use_bias in (False, True):
                cell_rnn = keras.layers.RNN(
                    SCRNCell(
                        4, 3, alpha=0.8, context_mode=mode, use_bias=use_bias
                    ),
                    return_sequences=True,
                )
                fast = SCRN(
                    4,
                    3,
                    alpha=0.8,
                    context_mode=mode,
                    use_bias=use_bias,
                    return_sequences=True,
                )
                cell_rnn(self.x)
                fast(self.x)
                self._random_weights(cell_rnn)
                fast.set_weights(cell_rnn.get_weights())
                ws = [np.asarray(w, "float64") for w in cell_rnn.get_weights()]
                h, s = numpy_scrn(self.x.astype("float64"), ws, 0.8, mode)
                want = np.concatenate([h, s], -1)
                self.assertAllClose(cell_rnn(self.x), want, atol=1e-5)
                self.assertAllClose(fast(self.x), want, atol=1e-5)

    def test_variants_differ(self):
        # The test above can fail: the two variants give different h.
        a = SCRN(4, 3, return_sequences=True, context_mode="current")
        b = SCRN(4, 3, return_sequences=True, context_mode="previous")
        a(self.x)
        b(self.x)
        self._random_weights(a)
        b.set_weights(a.get_weights())
        diff = np.abs(np.asarray(a(self.x)) - np.asarray(b(self.x)))
        self.assertGreater(diff[..., :4].max(), 1e-3)
        self.assertAllClose(a(self.x)[..., 4:], b(self.x)[..., 4:])

    def test_fast_equals_cell_masks_states_backwards(self):
        mask = np.ones((4, 6), bool)
        mask[0, 4:] = False
        mask[1, :2] = False
        mask[2, 3] = False
        mask[3, :] = False
        rng = np.random.RandomState(2)
        h0 = rng.normal(size=(4, 4)).astype("float32")
        s0 = rng.normal(size=(4, 3)).astype("float32")
        zeros4, zeros3 = np.zeros_like(h0), np.zeros_like(s0)
        for learn_alpha in (False, True):
            for backwards in (False, True):
                for zero in (False, True):
                    kw = dict(
                        alpha=0.7,
                        learn_alpha=learn_alpha,
                        return_sequences=True,
                        return_state=True,
                        go_backwards=backwards,
                        zero_output_for_mask=zero,
                    )
                    fast = SCRN(4, 3, **kw)
                    rnn = keras.layers.RNN(
                        SCRNCell(4, 3, alpha=0.7, learn_alpha=learn_alpha),
                        **{
                            k: v
                            for k, v in kw.items()
                            if k not in ("alpha", "learn_alpha")
                        },
                    )
                    fast.build(self.x.shape)
                    rnn.build(self.x.shape)
                    self._random_weights(fast)
                    rnn.set_weights(fast.get_weights())

                    def ref(x, mask=None, initial_state=(zeros4, zeros3)):
                        # Keras's JAX scan masks the output with h alone.
                        if mask is None or zero or backend() != "jax":
                            return rnn(
                                x, mask=mask, initial_state=initial_state
                            )
                        return _MaskedCellScan(rnn)(x, mask, initial_state)

                    for m in (None, mask):
                        got = fast(self.x, mask=m, initial_state=[h0, s0])
                        want = ref(self.x, mask=m, initial_state=[h0, s0])
                        self.assertAllClose(got, want, atol=2e-6)
                    # Without initial state, and the unrolled loop.
                    unrolled = SCRN(4, 3, unroll=True, **kw)
                    unrolled.build(self.x.shape)
                    unrolled.set_weights(fast.get_weights())
                    self.assertAllClose(
                        unrolled(self.x, mask=mask),
                        ref(self.x, mask=mask),
                        atol=2e-6,
                    )

    def test_masked_steps_keep_state(self):
        layer = SCRN(4, 3, return_sequences=True, return_state=True)
        mask = np.ones((4, 6), bool)
        mask[:, 2] = False
        mask[:, 5] = False
        seq, h, s = layer(self.x, mask=mask)
        seq = np.asarray(seq)
        self.assertAllClose(seq[:, 2], seq[:, 1])
        self.assertAllClose(np.concatenate([h, s], -1), seq[:, 4])
        # Masked inputs do not matter.
        x2 = self.x.copy()
        x2[:, 2] = 100.0
        x2[:, 5] = -7.0
        self.assertAllClose(layer(x2, mask=mask), (seq, h, s))

    def test_stateful_halves_equal_whole(self):
        for learn_alpha in (False, True):
            whole = SCRN(4, 3, learn_alpha=learn_alpha, return_sequences=True)
            want = np.asarray(whole(self.x))
            halves = SCRN(
                4,
                3,
                learn_alpha=learn_alpha,
                return_sequences=True,
                stateful=True,
            )
            halves(self.x[:, :3])
            halves.set_weights(whole.get_weights())
            halves.reset_state()
            first = halves(self.x[:, :3])
            second = halves(self.x[:, 3:])
            self.assertAllClose(
                np.concatenate([first, second], 1), want, atol=1e-6
            )
            halves.reset_state()
            self.assertAllClose(halves(self.x[:, :3]), first)

    def test_gradients_match_finite_differences(self):
        self.use_float64()
        rng = np.random.RandomState(3)
        x = rng.normal(size=(2, 5, 3))
        for mode in ("current", "previous"):
            layer = SCRN(
                3,
                2,
                alpha=0.6,
                learn_alpha=True,
                use_bias=True,
                context_mode=mode,
                return_sequences=True,
                dtype="float64",
            )
            layer(x)
            proj = rng.normal(size=(2, 5, 5))

            def loss():
                return ops.sum(layer(x) * proj)

            _, grads = gradients(loss, variables=layer.trainable_variables)
            if backend() == "jax":  # one compilation for every evaluation
                loss = custom_steps.jax_jit(layer, loss)
            eps = 1e-6
            for var, grad in zip(layer.trainable_variables, grads):
                grad = np.asarray(grad)
                self.assertGreater(np.abs(grad).max(), 0.0, var.path)
                base = np.asarray(var)
                for idx in list(np.ndindex(base.shape))[:4]:
                    plus = base.copy()
                    plus[idx] += eps
                    var.assign(plus)
                    up = float(loss())
                    minus = base.copy()
                    minus[idx] -= eps
                    var.assign(minus)
                    down = float(loss())
                    var.assign(base)
                    numeric = (up - down) / (2 * eps)
                    self.assertAlmostEqual(
                        grad[idx],
                        numeric,
                        delta=1e-6 + 1e-5 * abs(numeric),
                        msg=f"{var.path}{idx}",
                    )

    def test_fast_and_cell_gradients_agree(self):
        fast = SCRN(4, 3, learn_alpha=True, return_sequences=True)
        ref = keras.layers.RNN(
            SCRNCell(4, 3, learn_alpha=True),
            return_sequences=True,
            **REF_UNROLL,
        )
        fast.build(self.x.shape)
        ref.build(self.x.shape)
        ref.set_weights(fast.get_weights())
        mask = np.ones((4, 6), bool)
        mask[0, 3:] = False
        grads = []
        for layer in (fast, ref):

            def grad(x, layer=layer):
                return gradients(
                    lambda: layer(x, mask=mask) ** 2,
                    variables=layer.trainable_variables,
                )[1]

            if backend() == "jax":  # one compilation, not one per op
                grad = jit(grad)
            grads.append(grad(self.x))
        self.assertAllClose(grads[0], grads[1], atol=1e-5, rtol=1e-5)

    def test_alpha_extremes(self):
        # alpha = 1: the context never changes; alpha = 0: s_t = B x_t.
        layer = SCRN(4, 3, alpha=1.0, return_sequences=True)
        s0 = np.ones((4, 3), "float32")
        out = np.asarray(
            layer(self.x, initial_state=[np.zeros((4, 4), "float32"), s0])
        )
        self.assertAllClose(out[..., 4:], np.ones((4, 6, 3)))
        layer = SCRN(4, 3, alpha=0.0, return_sequences=True)
        out = np.asarray(layer(self.x))
        bx = self.x @ np.asarray(layer.cell.context_kernel)
        self.assertAllClose(out[..., 4:], bx, atol=1e-5)

    def test_layer_harness(self):
        self.run_layer_test(
            SCRN,
            dict(units=4, context_units=3, return_sequences=True),
            self.x,
            expected_output_shape=(4, 6, 7),
            expected_num_trainable_weights=4,
            expected_num_non_trainable_weights=0,
            supports_masking=True,
        )

    def test_layer_harness_learned_alpha_bias_state(self):
        self.run_layer_test(
            SCRN,
            dict(
                units=4,
                context_units=3,
                learn_alpha=True,
                use_bias=True,
                context_mode="previous",
                return_state=True,
            ),
            self.x,
            expected_output_shape=[(4, 7), (4, 4), (4, 3)],
            expected_num_trainable_weights=7,
            # The harness's fit check builds its model from eager outputs
            # for multi-output layers (tests/test_case.py _fit_check), so
            # it cannot run with return_state=True; test_layer_harness
            # covers fit, jit and MirroredStrategy.
            run_training_check=False,
            run_distribute_check=False,
        )

    def test_mixed_precision_context_in_float32(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        layer = SCRN(4, 3, return_sequences=True)
        out = layer(self.x)
        self.assertEqual(keras.backend.standardize_dtype(out.dtype), "bfloat16")
        keras.config.set_dtype_policy("float32")
        ref = SCRN(4, 3, return_sequences=True)
        ref(self.x)
        ref.set_weights(layer.get_weights())
        self.assertAllClose(
            np.asarray(ops.cast(out, "float32")), ref(self.x), atol=5e-2
        )

    def test_bad_arguments(self):
        for kwargs, pattern in (
            (dict(units=0, context_units=3), "units"),
            (dict(units=-2, context_units=3), "units"),
            (dict(units=4, context_units=0), "context_units"),
            (dict(units=4, context_units=3, alpha=-0.1), "alpha"),
            (dict(units=4, context_units=3, alpha=1.5), "alpha"),
            (
                dict(units=4, context_units=3, alpha=1.0, learn_alpha=True),
                "alpha",
            ),
            (
                dict(units=4, context_units=3, context_mode="next"),
                "context_mode",
            ),
        ):
            with self.assertRaisesRegex(ValueError, pattern):
                SCRN(**kwargs)
        # Non-integer counts name the argument (not a bare `int()` error).
        for bad in ("a", 2.5, True):
            with self.assertRaisesRegex(ValueError, "context_units="):
                SCRN(4, bad)
            with self.assertRaisesRegex(ValueError, "units="):
                SCRN(bad, 3)
        with self.assertRaisesRegex(ValueError, "batch size"):
            layer = SCRN(4, 3, stateful=True)
            inputs = keras.Input((6, 5))
            layer(inputs)

    def test_input_rank_is_checked(self):
        # Before: a TF InvalidArgumentError from a strided slice.
        layer = SCRN(4, 3)
        for shape in ((2, 5), (2, 3, 4, 5)):
            with self.assertRaisesRegex(
                ValueError, r"`inputs`.*rank 3.*Received: inputs with shape"
            ):
                layer(np.zeros(shape, "float32"))
        self.assertEqual(tuple(layer(self.x).shape), (4, 7))
        with self.assertRaisesRegex(ValueError, r"\(4, 5\)"):
            layer(np.zeros((4, 5), "float32"))  # built layer: checked too
        with self.assertRaisesRegex(ValueError, "rank 3"):
            SCRN(4, 3)(keras.Input((5,)))

    def _set_random(self, fast, ref, x):
        # Built, not called: an eager call compiles every op on JAX.
        fast.build(x.shape)
        ref.build(x.shape)
        self._random_weights(fast)
        ref.set_weights(fast.get_weights())

    def test_long_sequences_match_cell_on_every_path(self):
        # T=70: full chunks and a partial one on every path (64 + 6 steps
        # without a mask; 32 * 2 + 6 and 16 * 4 + 6 with one), so the
        # chunk recurrence and padding both run; row 1 starts with 36
        # masked steps (whole masked chunks). In float64 the outputs and
        # every gradient (weights, alpha, initial states) agree to
        # rounding; float32 is tested at T=70 below. On JAX the layer runs
        # under jax.jit (one scan, chunked or not: the masked and unmasked
        # paths suffice) and the masked reference is `_MaskedCellScan`.
        self.use_float64()
        rng = np.random.RandomState(4)
        x = rng.normal(size=(2, 70, 5))
        mask = rng.rand(2, 70) > 0.3
        mask[1, :36] = False
        state = [rng.normal(size=(2, 4)), rng.normal(size=(2, 3))]
        paths = [(False, False, mask), (True, True, mask), (True, False, None)]
        if backend() != "tensorflow":
            paths = paths[1:]
        for learn_alpha, backwards, m in paths:
            kw = dict(
                return_sequences=True,
                return_state=True,
                go_backwards=backwards,
            )
            fast, ref = _pair(
                kw, learn_alpha=learn_alpha, dtype="float64", unroll_ref=False
            )
            self._set_random(fast, ref, x)
            if backend() == "tensorflow":
                got = _grads(fast, x, m, state)
            else:
                got = jit(lambda x, *s: _grads(fast, x, m, list(s)))(x, *state)
                if m is not None:
                    ref = _MaskedCellScan(ref)
            want = _grads(ref, x, m, state)
            self.assertAllClose(got, want, atol=1e-10, rtol=1e-10)

    def test_masked_cell_scan_is_keras_rnn_with_a_mask(self):
        # The JAX reference above against Keras's own RNN where that is
        # right on every backend (unrolled: TF's and JAX's unrolled loops
        # both carry SCRNCell's whole output), with states, backwards.
        self.use_float64()
        rng = np.random.RandomState(9)
        x = rng.normal(size=(3, 7, 5))
        mask = rng.rand(3, 7) > 0.4
        mask[1, :4] = False
        state = [rng.normal(size=(3, 4)), rng.normal(size=(3, 3))]
        for backwards in (False, True):
            kw = dict(
                return_sequences=True,
                return_state=True,
                go_backwards=backwards,
                unroll=True,
            )
            ref = keras.layers.RNN(
                SCRNCell(4, 3, alpha=0.7, learn_alpha=True, dtype="float64"),
                dtype="float64",
                **kw,
            )
            ref.build(x.shape)
            self._random_weights(ref)
            got = _compiled(_MaskedCellScan(ref))(x, mask, state)
            want = _run(ref, x, mask=mask, initial_state=state)
            self.assertAllClose(got, want, atol=1e-12, rtol=1e-12)

    def test_stateful_long_halves_match_cell(self):
        # 40 + 60 steps: one chunk, then a full and a partial one.
        x = np.random.RandomState(5).normal(size=(2, 100, 5))
        x = x.astype("float32")
        whole = keras.layers.RNN(
            SCRNCell(4, 3, alpha=0.7, learn_alpha=True), return_sequences=True
        )
        whole.build(x.shape)
        self._random_weights(whole)
        halves = SCRN(
            4,
            3,
            alpha=0.7,
            learn_alpha=True,
            return_sequences=True,
            stateful=True,
        )
        halves.build(x[:, :40].shape)
        halves.set_weights(whole.get_weights())
        halves.reset_state()
        first = halves(x[:, :40])
        second = halves(x[:, 40:])
        self.assertAllClose(
            np.concatenate([first, second], 1), _run(whole, x), atol=1e-5
        )

    def test_float64_long_matches_numpy(self):
        self.use_float64()
        rng = np.random.RandomState(6)
        x = rng.normal(size=(3, 100, 5))
        mask = rng.rand(3, 100) > 0.4
        for mode in ("current", "previous"):
            layer = SCRN(
                4,
                3,
                alpha=0.8,
                context_mode=mode,
                use_bias=True,
                return_sequences=True,
                dtype="float64",
            )
            layer.build(x.shape)
            self._random_weights(layer)
            weights = layer.get_weights()
            for m in (None, mask):
                h, s = numpy_scrn(x, weights, 0.8, mode, mask=m)
                want = np.concatenate([h, s], -1)
                if m is not None:  # zeros before the first unmasked step
                    seen = np.cumsum(m, 1) > 0
                    want = np.where(seen[..., None], want, 0.0)
                self.assertAllClose(
                    _run(layer, x, mask=m), want, atol=1e-10, rtol=1e-10
                )

    def test_float64_tanh_matches_numpy(self):
        # Keras's tanh of float64 is float32 on JAX: SCRN and SCRNCell
        # compute it in float64 themselves there (from expm1). The layer,
        # the cell, and tanh's value and derivative (at 0 and where exp
        # would overflow) agree with NumPy to float64 rounding.
        self.use_float64()
        rng = np.random.RandomState(12)
        x = rng.normal(size=(2, 7, 5))
        mask = rng.rand(2, 7) > 0.3
        mask[:, 0] = True
        kw = dict(return_sequences=True)
        fast, ref = _pair(kw, alpha=0.8, activation="tanh", dtype="float64")
        self._set_random(fast, ref, x)
        h, s = numpy_scrn(
            x, fast.get_weights(), 0.8, mask=mask, activation=np.tanh
        )
        want = np.concatenate([h, s], -1)
        for layer in (fast, ref):
            got = _run(layer, x, mask=mask)
            self.assertEqual(
                keras.backend.standardize_dtype(got.dtype), "float64"
            )
            self.assertAllClose(got, want, atol=1e-13, rtol=1e-13)
        z = np.array([-400.0, -20.0, -0.7, -1e-9, 0.0, 1e-9, 0.3, 20.0, 400.0])
        tanh, (grad,) = gradients(
            lambda z: scrn.apply_activation(keras.activations.tanh, z), [z]
        )
        self.assertAllClose(tanh, np.tanh(z), atol=0, rtol=1e-15)
        self.assertAllClose(grad, 1.0 - np.tanh(z) ** 2, atol=1e-16, rtol=1e-14)

    def test_context_sequence_matches_numpy(self):
        self.use_float64()
        rng = np.random.RandomState(7)
        # Other backends run the same code but for the chunk recurrence
        # (keras.ops.scan), and compile every op for every shape: one
        # length, one chunk by default and four full or partial with
        # chunk_size=4.
        lengths = (1, 4, 5, 13) if backend() == "tensorflow" else (13,)
        for steps in lengths:
            bx = rng.normal(size=(3, steps, 2))
            s0 = rng.normal(size=(3, 2))
            mask = rng.rand(3, steps) > 0.3
            mask[2] = False  # a row with no step at all
            alphas = (0.9, 0.0, 1.0, np.float64(0.6), np.array([0.3, 0.95]))
            if backend() != "tensorflow":  # the edge values, and a vector
                alphas = alphas[1:3] + alphas[4:]
            for alpha in alphas:
                for m in (None, mask):
                    want = numpy_context(bx, s0, alpha, m)
                    a = alpha
                    if isinstance(alpha, np.ndarray):
                        a = ops.convert_to_tensor(alpha)
                    for chunk in (None, 4):
                        got = _compiled(scrn.context_sequence)(
                            bx, s0, a, m, chunk
                        )
                        self.assertAllClose(got, want, atol=1e-12)
                    got = _compiled(scrn.context_sequence)(
                        np.transpose(bx, (1, 0, 2)),
                        s0,
                        a,
                        None if m is None else m.T,
                        chunk_size=4,
                        time_major=True,
                    )
                    self.assertAllClose(
                        np.transpose(got, (1, 0, 2)), want, atol=1e-12
                    )

    def test_context_is_linear_in_length(self):
        # A (T, T) decay matrix at T=50000 would take 10 GB (20 GB in
        # float64); the chunked context takes memory like its output.
        self.use_float64()
        rng = np.random.RandomState(8)
        steps = 50_000
        bx = rng.normal(size=(1, steps, 2))
        mask = rng.rand(1, steps) > 0.5
        alpha = np.array([0.999, 0.9])

        def context(bx, mask):
            return scrn.context_sequence(
                bx,
                ops.zeros((1, 2), "float64"),
                ops.convert_to_tensor(alpha),
                mask,
            )

        context = jit(context, jit_compile=False)

        got = np.asarray(context(bx, mask))
        want = numpy_context(bx, np.zeros((1, 2)), alpha, mask)
        self.assertAllClose(got, want, atol=1e-10)

    @skip_unless_tensorflow(
        "unknown lengths under tf.function and the hand-written backward "
        "pass under XLA; on JAX test_long_sequences_match_cell_on_every_path "
        "runs the layer under jax.jit"
    )
    def test_dynamic_length_and_xla_match_cell(self):
        # Unknown T (padding to chunks and loop blocks at run time), and
        # the chunk recurrence and hand-written backward pass under XLA.
        rng = np.random.RandomState(9)
        fast, ref = _pair(dict(return_sequences=True, return_state=True))
        self._set_random(fast, ref, np.zeros((1, 2, 5), "float32"))

        def compiled(layer, jit_compile):
            def run(x, mask):
                return _grads(layer, x, mask)

            if backend() != "tensorflow":  # jax.jit: one trace per shape
                return jit(run)
            import tensorflow as tf

            spec = [
                tf.TensorSpec((None, None, 5)),
                tf.TensorSpec((None, None), tf.bool),
            ]
            return tf.function(
                run, jit_compile=jit_compile, input_signature=spec
            )

        want_fn = compiled(ref, False)
        for jit_compile, lengths in ((False, (3, 70)), (True, (70,))):
            got_fn = compiled(fast, jit_compile)
            for steps in lengths:
                x = rng.normal(size=(2, steps, 5)).astype("float32")
                mask = rng.rand(2, steps) > 0.2
                got, got_grads = got_fn(x, mask)
                want, want_grads = want_fn(x, mask)
                self.assertAllClose(got, want, atol=1e-5, rtol=1e-5)
                self.assertAllClose(got_grads, want_grads, atol=1e-5, rtol=1e-4)

    @skip_unless_tensorflow(
        "the hand-written backward pass is TensorFlow's; other backends "
        "differentiate keras.ops.scan, checked to float64 rounding by "
        "test_long_sequences_match_cell_on_every_path (and float64 tanh by "
        "test_float64_tanh_matches_numpy)"
    )
    def test_hand_written_backward_matches_autodiff(self):
        # Sigmoid, tanh, relu and linear have a hand-written backward pass;
        # other activations (softplus) use TensorFlow's automatic one.
        # T=11 runs 6 steps per loop iteration: one padding step. float64:
        # the two gradients agree to rounding.
        self.use_float64()
        rng = np.random.RandomState(10)
        x = rng.normal(size=(3, 11, 5))
        mask = rng.rand(3, 11) > 0.3
        state = [rng.normal(size=(3, 4)), rng.normal(size=(3, 3))]
        for activation in ("sigmoid", "tanh", "relu", "linear", "softplus"):
            fast, ref = _pair(
                dict(return_sequences=True, return_state=True),
                activation=activation,
                use_bias=True,
                dtype="float64",
            )
            self._set_random(fast, ref, x)
            got = _grads(fast, x, mask, state)
            want = _grads(ref, x, mask, state)
            self.assertAllClose(got, want, atol=1e-10, rtol=1e-10)

    @skip_unless_tensorflow("compares keras.ops.scan with the TF loops")
    def test_other_backends_code_path(self):
        # Without TensorFlow, the loops are keras.ops.scan: run that code
        # on TensorFlow (eagerly) and compare with the TF loops.
        rng = np.random.RandomState(11)
        x = rng.normal(size=(2, 70, 5)).astype("float32")
        mask = rng.rand(2, 70) > 0.3
        for learn_alpha in (False, True):
            layer = SCRN(4, 3, learn_alpha=learn_alpha, return_sequences=True)
            layer(x)
            self._random_weights(layer)
            for m in (None, mask):
                want = _grads(layer, x, m)
                with mock.patch.object(
                    keras.backend, "backend", return_value="jax"
                ):
                    got = _grads(layer, x, m)
                self.assertAllClose(got, want, atol=1e-5, rtol=1e-5)
