"""The whole-sequence SCRN layer against NumPy and the cell."""

import keras
import numpy as np
import tensorflow as tf

from kdl.layers import SCRN
from kdl.layers import SCRNCell
from tests.test_case import TestCase


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_scrn(
    x, weights, alpha, context_mode="current", mask=None, h0=None, s0=None
):
    """The paper's equations, step by step (Mikolov et al. 2014, eq. 4-6).

    s_t = (1 - alpha) B x_t + alpha s_{t-1}
    h_t = sigmoid(P s_t + A x_t + R h_{t-1})   ("previous": P s_{t-1})
    A masked step keeps h and s.
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
        h_new = _sigmoid(s_in @ p + x[:, t] @ a + h @ r + bias)
        if mask is not None:
            m = mask[:, t, None]
            s_new = np.where(m, s_new, s)
            h_new = np.where(m, h_new, h)
        h, s = h_new, s_new
        hs.append(h)
        ss.append(s)
    return np.stack(hs, 1), np.stack(ss, 1)


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
                    ref = keras.layers.RNN(
                        SCRNCell(4, 3, alpha=0.7, learn_alpha=learn_alpha),
                        **{
                            k: v
                            for k, v in kw.items()
                            if k not in ("alpha", "learn_alpha")
                        },
                    )
                    fast(self.x)
                    ref(self.x)
                    self._random_weights(fast)
                    ref.set_weights(fast.get_weights())
                    for m in (None, mask):
                        got = fast(self.x, mask=m, initial_state=[h0, s0])
                        want = ref(self.x, mask=m, initial_state=[h0, s0])
                        self.assertAllClose(got, want, atol=2e-6)
                    # Without initial state, and the unrolled loop.
                    unrolled = SCRN(4, 3, unroll=True, **kw)
                    unrolled(self.x)
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
                return tf.reduce_sum(layer(x) * proj)

            with tf.GradientTape() as tape:
                value = loss()
            grads = tape.gradient(value, layer.trainable_variables)
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
            SCRNCell(4, 3, learn_alpha=True), return_sequences=True
        )
        fast(self.x)
        ref(self.x)
        ref.set_weights(fast.get_weights())
        mask = np.ones((4, 6), bool)
        mask[0, 3:] = False
        grads = []
        for layer in (fast, ref):
            with tf.GradientTape() as tape:
                y = tf.reduce_sum(layer(self.x, mask=mask) ** 2)
            grads.append(tape.gradient(y, layer.trainable_variables))
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
            np.asarray(tf.cast(out, "float32")), ref(self.x), atol=5e-2
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
        with self.assertRaisesRegex(ValueError, "batch size"):
            layer = SCRN(4, 3, stateful=True)
            inputs = keras.Input((6, 5))
            layer(inputs)
