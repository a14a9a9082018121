"""Bengio et al. (2003) feed-forward language model."""

import os

import keras
import numpy as np

from kdl.datasets import ngram_dataset
from kdl.models import CacheLM
from kdl.models import FeedForwardLM
from tests.test_case import TestCase


def _compile(model, lr=1e-2):
    model.compile(
        keras.optimizers.Adam(lr),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _numpy_logits(model, contexts):
    # y = b + W x + U tanh(d + H x), x = concatenated embeddings (eq. 1).
    weights = {w.path.split("/", 1)[1]: np.asarray(w) for w in model.weights}
    x = weights["embedding/embeddings"][contexts].reshape(len(contexts), -1)
    hidden = np.tanh(x @ weights["hidden/kernel"] + weights["hidden/bias"])
    y = hidden @ weights["output/kernel"] + weights["output/bias"]
    if model.direct:
        y = y + x @ weights["direct/kernel"]
    return y


class FeedForwardLMTest(TestCase):
    def test_layer_contract(self):
        # With direct connections: every sublayer is exercised.
        contexts = np.random.RandomState(0).randint(0, 11, (4, 3))
        self.run_layer_test(
            FeedForwardLM,
            {
                "vocab_size": 11,
                "order": 4,
                "embedding_dim": 5,
                "hidden_units": 7,
                "direct": True,
            },
            contexts.astype("int32"),
            expected_output_shape=(4, 11),
            expected_num_trainable_weights=6,
            expected_num_non_trainable_weights=0,
            # Logits stay float32 under mixed precision (checked below).
            run_mixed_precision_check=False,
        )
        self.assertLen(FeedForwardLM(11, 4)(contexts).shape, 2)
        self.assertLen(FeedForwardLM(11, 4).trainable_weights, 0)
        plain = FeedForwardLM(11, 4)
        plain.build((None, 3))
        self.assertLen(plain.trainable_weights, 5)

    def test_mixed_precision_keeps_float32_logits(self):
        for policy in ("mixed_float16", "mixed_bfloat16"):
            keras.config.set_dtype_policy(policy)
            model = FeedForwardLM(11, order=3, embedding_dim=4, hidden_units=6)
            out = model(np.zeros((2, 2), "int32"))
            self.assertEqual(
                keras.backend.standardize_dtype(out.dtype), "float32"
            )
            self.assertEqual(model.hidden.compute_dtype, policy[6:])
            for w in model.weights:
                self.assertEqual(w.dtype, "float32", w.path)
            keras.config.set_dtype_policy("float32")

    def test_numpy_reference_and_parameter_count(self):
        v, n, m, h = 13, 4, 5, 6
        contexts = np.random.RandomState(1).randint(0, v, (8, n - 1))
        for direct in (False, True):
            model = FeedForwardLM(v, n, m, h, direct=direct)
            got = model(contexts)
            self.assertAllClose(got, _numpy_logits(model, contexts), atol=1e-5)
            # |C| + |H| + |d| + |U| + |b| (+ |W|), the paper's count.
            want = v * m + (n - 1) * m * h + h + h * v + v
            want += (n - 1) * m * v if direct else 0
            self.assertEqual(model.count_params(), want)

    def test_learns_a_stream_and_scores_it(self):
        # A stream where the next token depends on the two before it
        # (a bigram model cannot predict it; a trigram model can).
        ids = [0, 1]
        for _ in range(1504):  # 1504 windows: 47 whole batches of 32
            ids.append((ids[-1] + 2 * ids[-2] + 1) % 6)
        ids = np.array(ids)
        ds = ngram_dataset(ids, 3, 32, shuffle=True, seed=0)
        model = _compile(
            FeedForwardLM(6, order=3, embedding_dim=8, hidden_units=24),
            lr=3e-2,
        )
        before = model.perplexity(ids)
        model.fit(ds, epochs=4, verbose=0)
        after = model.perplexity(ids)
        self.assertGreater(before, 4.0)
        self.assertLess(after, 1.3)
        # perplexity = exp(evaluate's loss) on every padded window.
        padded = ngram_dataset(ids, 3, 502, pad_id=0)  # 3 whole batches
        loss = model.evaluate(padded, verbose=0)
        self.assertAlmostEqual(after, float(np.exp(loss)), places=3)
        # log_probs: the softmax of the logits at each target.
        head = ids[:50]
        contexts = np.stack([np.r_[0, 0, head][i : i + 2] for i in range(50)])
        logits = _numpy_logits(model, contexts)
        log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        self.assertAllClose(
            model.log_probs(head, batch_size=16),
            log_softmax[np.arange(50), head],
            atol=1e-5,
        )
        # Other paddings / uses: a CacheLM wraps it.
        self.assertLen(model.log_probs(head, pad_id=5), 50)
        cached = CacheLM(model, window=20, lam=0.05)
        self.assertTrue(np.isfinite(cached.perplexity(head)))

    def test_save_and_load(self):
        model = FeedForwardLM(9, order=3, embedding_dim=4, hidden_units=5)
        model.build((None, 2))
        contexts = np.array([[1, 2], [3, 4]], "int32")
        path = os.path.join(self.get_temp_dir(), "ffnnlm.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, FeedForwardLM)
        self.assertAllClose(loaded(contexts), model(contexts))
        self.assertEqual(loaded.get_config(), model.get_config())

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "vocab_size"):
            FeedForwardLM(0)
        with self.assertRaisesRegex(ValueError, "order"):
            FeedForwardLM(10, order=1)
        with self.assertRaisesRegex(ValueError, "embedding_dim"):
            FeedForwardLM(10, embedding_dim=2.5)
        with self.assertRaisesRegex(ValueError, "hidden_units"):
            FeedForwardLM(10, hidden_units=0)
        with self.assertRaisesRegex(ValueError, "direct"):
            FeedForwardLM(10, direct=1)
        model = FeedForwardLM(10, order=3, embedding_dim=2, hidden_units=2)
        with self.assertRaisesRegex(ValueError, "input_shape"):
            model(np.zeros((2, 4), "int32"))
        with self.assertRaisesRegex(ValueError, "pad_id"):
            model.log_probs([1, 2], pad_id=-1)
        with self.assertRaisesRegex(ValueError, "batch_size"):
            model.log_probs([1, 2], batch_size=0)
        with self.assertRaisesRegex(ValueError, "ids"):
            model.log_probs(np.zeros((2, 2), "int32"))
        with self.assertRaisesRegex(ValueError, "ids"):
            model.perplexity(np.zeros(0, "int32"))


class AdaptiveFeedForwardLMTest(TestCase):
    def _data(self):
        rng = np.random.default_rng(0)
        # 1218 tokens: 1216 windows, 19 whole batches of 64 (one compiled
        # step on JAX, not a second one for a smaller last batch).
        ids = (np.arange(1218) % 4 + 2).astype("int32")
        noise = rng.random(1218) < 0.1
        ids[noise] = rng.integers(0, 12, noise.sum())
        return ids

    def test_adaptive_softmax_trains_and_scores_exact_probabilities(self):
        ids = self._data()
        keras.utils.set_random_seed(0)
        lm = FeedForwardLM(
            12, order=3, embedding_dim=8, hidden_units=16,
            softmax="adaptive", cutoffs=[4, 8],
        )  # fmt: skip
        lm.compile(keras.optimizers.Adam(1e-2))
        data = ngram_dataset(ids, 3, 64, shuffle=True, seed=0)
        history = lm.fit(data, epochs=3, verbose=0).history
        self.assertLess(history["loss"][-1], history["loss"][0])
        log_probs = np.asarray(lm(ids[None, :2]))
        self.assertEqual(log_probs.shape, (1, 12))
        self.assertAllClose(np.exp(log_probs).sum(-1), [1.0], atol=1e-5)
        # evaluate's loss is the mean cross-entropy of those exact
        # probabilities, i.e. log perplexity over complete windows.
        loss = lm.evaluate(ngram_dataset(ids, 3, 64), verbose=0)
        picked = lm.log_probs(ids)[2:]
        self.assertAllClose(loss, -picked.mean(), rtol=1e-4)
        self.assertLess(lm.perplexity(ids), 4.0)
        config = lm.get_config()
        self.assertEqual(config["softmax"], "adaptive")
        self.assertEqual(config["cutoffs"], [4, 8])
        path = self.get_temp_dir() + "/ffnn.keras"
        lm.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(loaded(ids[None, :2]), log_probs, atol=1e-6)

    def test_adaptive_arguments_are_checked(self):
        with self.assertRaisesRegex(ValueError, "needs `cutoffs`"):
            FeedForwardLM(12, softmax="adaptive")
        with self.assertRaisesRegex(ValueError, "direct=True"):
            FeedForwardLM(12, softmax="adaptive", cutoffs=[4], direct=True)
        with self.assertRaisesRegex(ValueError, "only for softmax='adaptive'"):
            FeedForwardLM(12, cutoffs=[4])
        with self.assertRaisesRegex(ValueError, "softmax='sparse'"):
            FeedForwardLM(12, softmax="sparse")
