import keras
import numpy as np

from kdl.layers.bahdanau_attention import BahdanauAttention
from tests.test_case import TestCase


def numpy_bahdanau(query, value, weights, mask=None, normalize=False):
    """Bahdanau et al. 2015, appendix A.1.2, written with NumPy."""
    w_a, u_a, v_a = weights[:3]
    bias = weights[3] if len(weights) > 3 else 0.0
    if normalize:
        v_a = weights[4] * v_a / np.linalg.norm(v_a)
    single = query.ndim == 2
    if single:
        query = query[:, None, :]
    batch, tq, _ = query.shape
    tv = value.shape[1]
    alpha = np.zeros((batch, tq, tv))
    for b in range(batch):
        for t in range(tq):
            e = np.array(
                [
                    v_a
                    @ np.tanh(w_a.T @ query[b, t] + u_a.T @ value[b, k] + bias)
                    for k in range(tv)
                ]
            )
            valid = np.ones(tv, bool) if mask is None else mask[b]
            e = np.where(valid, e, -np.inf)
            p = np.exp(e - e[valid].max())
            alpha[b, t] = p / p.sum()
    context = alpha @ value
    if single:
        return context[:, 0], alpha[:, 0]
    return context, alpha


class BahdanauAttentionTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.RandomState(0)
        self.query3 = rng.normal(size=(4, 4, 5)).astype("float32")
        self.query2 = self.query3[:, 0]
        self.value = rng.normal(size=(4, 6, 7)).astype("float32")
        self.mask = np.array(
            [
                [1, 1, 1, 1, 1, 1],
                [1, 1, 1, 0, 0, 0],
                [1, 0, 0, 0, 0, 0],
                [1, 1, 0, 0, 0, 1],
            ],
            bool,
        )

    def _randomize(self, layer):
        rng = np.random.RandomState(1)
        for w in layer.weights:
            w.assign(rng.normal(size=w.shape).astype("float32"))

    def test_layer_checks(self):
        self.run_layer_test(
            BahdanauAttention,
            {"units": 8},
            [self.query3, self.value],
            expected_output_shape=(4, 4, 7),
            expected_num_trainable_weights=3,
            supports_masking=True,
        )

    def test_layer_checks_normalized_rank2(self):
        self.run_layer_test(
            BahdanauAttention,
            {"units": 8, "normalize": True},
            [self.query2, self.value],
            expected_output_shape=(4, 7),
            expected_num_trainable_weights=5,
            run_distribute_check=False,
        )

    def test_matches_numpy(self):
        for normalize, use_bias in (
            (False, False),
            (False, True),
            (True, False),
        ):
            layer = BahdanauAttention(8, normalize=normalize, use_bias=use_bias)
            layer([self.query3, self.value])
            self._randomize(layer)
            weights = [np.array(w) for w in layer.weights]
            for query in (self.query3, self.query2):
                context, alpha = layer(
                    [query, self.value],
                    mask=[None, self.mask],
                    return_attention_scores=True,
                )
                ref_c, ref_a = numpy_bahdanau(
                    query, self.value, weights, self.mask, normalize
                )
                self.assertAllClose(alpha, ref_a, atol=1e-5, rtol=1e-4)
                self.assertAllClose(context, ref_c, atol=1e-5, rtol=1e-4)

    def test_separate_key(self):
        key = np.random.RandomState(2).normal(size=(4, 6, 2)).astype("float32")
        layer = BahdanauAttention(4)
        context, alpha = layer(
            [self.query3, self.value, key], return_attention_scores=True
        )
        self.assertEqual(tuple(layer.key_kernel.shape), (2, 4))
        weights = [np.array(w) for w in layer.weights]
        w_a, u_a, v_a = weights
        e = (
            np.tanh((self.query3 @ w_a)[:, :, None] + (key @ u_a)[:, None])
            @ v_a
        )
        ref = np.exp(e) / np.exp(e).sum(-1, keepdims=True)
        self.assertAllClose(alpha, ref, atol=1e-5, rtol=1e-4)
        self.assertAllClose(context, ref @ self.value, atol=1e-5, rtol=1e-4)

    def test_padding_gets_zero_weight_and_no_influence(self):
        layer = BahdanauAttention(8)
        context, alpha = layer(
            [self.query3, self.value],
            mask=[None, self.mask],
            return_attention_scores=True,
        )
        alpha = np.array(alpha)
        self.assertTrue(
            np.all(
                alpha[~np.broadcast_to(self.mask[:, None], alpha.shape)] == 0.0
            )
        )
        self.assertAllClose(alpha.sum(-1), np.ones((4, 4)), atol=1e-6)
        garbage = self.value.copy()
        garbage[~self.mask] = 1e3
        context2 = layer([self.query3, garbage], mask=[None, self.mask])
        self.assertAllEqual(context, context2)
        # A bare value mask works too, and Keras masks propagate.
        self.assertAllEqual(
            layer([self.query3, garbage], mask=self.mask), context
        )

    def test_keras_mask_propagation(self):
        ids = keras.Input((None,), dtype="int32")
        q = keras.Input((None, 5))
        v = keras.layers.Embedding(10, 7, mask_zero=True)(ids)
        out = BahdanauAttention(4)([q, v], return_attention_scores=True)
        model = keras.Model([q, ids], out)
        src = np.array([[3, 4, 0, 0], [5, 0, 0, 0]], "int32")
        _, alpha = model([self.query3[:2], src])
        self.assertAllEqual(np.array(alpha)[:, :, 2:], np.zeros((2, 4, 2)))
        self.assertAllEqual(np.array(alpha)[1, :, 1], np.zeros(4))

    def test_rank2_and_rank3_queries_agree(self):
        layer = BahdanauAttention(8)
        c3, a3 = layer(
            [self.query3, self.value],
            mask=[None, self.mask],
            return_attention_scores=True,
        )
        for t in range(4):
            c2, a2 = layer(
                [self.query3[:, t], self.value],
                mask=[None, self.mask],
                return_attention_scores=True,
            )
            self.assertAllClose(c2, np.array(c3)[:, t], atol=1e-6)
            self.assertAllClose(a2, np.array(a3)[:, t], atol=1e-6)

    def test_processed_key_cache(self):
        layer = BahdanauAttention(8, use_bias=True)
        ref = layer([self.query2, self.value], mask=[None, self.mask])
        key = layer.process_key(self.value)
        self.assertEqual(tuple(key.shape), (4, 6, 8))
        cached = layer(
            [self.query2, self.value],
            mask=[None, self.mask],
            processed_key=key,
        )
        self.assertAllClose(cached, ref, atol=1e-6)

    def test_same_math_as_keras_additive_attention(self):
        layer = BahdanauAttention(8)
        ours = layer([self.query3, self.value])
        w_a, u_a, v_a = [np.array(w) for w in layer.weights]
        keras_layer = keras.layers.AdditiveAttention(use_scale=True)
        theirs = keras_layer([self.query3 @ w_a, self.value, self.value @ u_a])
        keras_layer.scale.assign(v_a)
        theirs = keras_layer([self.query3 @ w_a, self.value, self.value @ u_a])
        self.assertAllClose(ours, theirs, atol=1e-5, rtol=1e-5)

    def test_all_padded_source_gives_zero_context(self):
        mask = np.zeros((4, 6), bool)
        context, alpha = BahdanauAttention(4)(
            [self.query2, self.value],
            mask=[None, mask],
            return_attention_scores=True,
        )
        self.assertAllEqual(alpha, np.zeros((4, 6)))
        self.assertAllEqual(context, np.zeros((4, 7)))

    def test_mixed_precision_weights_sum_to_one(self):
        keras.config.set_dtype_policy("mixed_float16")
        layer = BahdanauAttention(8)
        context, alpha = layer(
            [self.query3, self.value],
            mask=[None, self.mask],
            return_attention_scores=True,
        )
        self.assertEqual(context.dtype, "float16")
        self.assertAllClose(
            np.array(alpha, "float32").sum(-1), np.ones((4, 4)), atol=2e-3
        )
        self.assertTrue(np.all(np.array(alpha)[1, :, 3:] == 0))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "units"):
            BahdanauAttention(0)
        with self.assertRaisesRegex(ValueError, "units"):
            BahdanauAttention(2.5)
        layer = BahdanauAttention(4)
        with self.assertRaisesRegex(ValueError, "same length Tv"):
            layer([self.query3, self.value, self.value[:, :3]])
        with self.assertRaisesRegex(ValueError, "query"):
            BahdanauAttention(4)([self.query3[None], self.value])
        with self.assertRaisesRegex(ValueError, "value"):
            BahdanauAttention(4)([self.query3, self.value[0]])
        with self.assertRaisesRegex(ValueError, "batch size"):
            BahdanauAttention(4)([self.query3[:2], self.value])
        with self.assertRaisesRegex(ValueError, "query, value"):
            BahdanauAttention(4)(self.value)
        layer = BahdanauAttention(4)
        layer([self.query3, self.value])
        with self.assertRaisesRegex(ValueError, "processed_key"):
            layer([self.query3, self.value], processed_key=self.value)
        with self.assertRaisesRegex(ValueError, "key"):
            layer.process_key(self.query3)
