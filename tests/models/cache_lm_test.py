"""Unigram cache interpolation: brute-force references and tuning."""

import numpy as np

from kdl.models import CacheLM
from kdl.models import KneserNeyLM
from kdl.models import cache_log_probs
from kdl.models.cache_lm import cache_counts
from tests.test_case import TestCase


class _Uniform:
    """A model that gives every one of `vocab_size` ids the same chance."""

    def __init__(self, vocab_size):
        self.vocab_size = vocab_size

    def log_probs(self, ids):
        return np.full(len(ids), -np.log(self.vocab_size))


def _bursty_stream(size, vocab_size, seed):
    # Topics of 100 tokens, each drawn from 8 ids of the vocabulary: a
    # cache of recent tokens predicts them well, a unigram model does not.
    rng = np.random.default_rng(seed)
    topics = [rng.choice(vocab_size, 8, replace=False) for _ in range(30)]
    chunks = [
        rng.choice(topics[rng.integers(30)], 100) for _ in range(size // 100)
    ]
    return np.concatenate(chunks)


class CacheLMTest(TestCase):
    def test_cache_counts_brute_force(self):
        ids = np.random.default_rng(0).integers(0, 6, size=200)
        for window in (1, 3, 10, 500):
            counts, sizes = cache_counts(ids, window)
            for t in range(len(ids)):
                recent = ids[max(0, t - window) : t]
                self.assertEqual(counts[t], int(np.sum(recent == ids[t])))
                self.assertEqual(sizes[t], len(recent))

    def test_mixture_brute_force(self):
        rng = np.random.default_rng(1)
        ids = rng.integers(0, 5, size=60)
        logits = rng.normal(size=(60, 5))
        log_dist = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        window, lam = 7, 0.3
        want = []
        for t in range(len(ids)):
            p_model = np.exp(log_dist[t, ids[t]])
            if t == 0:  # empty cache: the model alone
                want.append(np.log(p_model))
                continue
            recent = ids[max(0, t - window) : t]
            p_cache = np.mean(recent == ids[t])
            want.append(np.log((1 - lam) * p_model + lam * p_cache))
        # From full distributions (T, V) and from the targets' log probs.
        got_full = cache_log_probs(log_dist, ids, window, lam)
        token = log_dist[np.arange(60), ids]
        got_token = cache_log_probs(token, ids, window, lam)
        self.assertAllClose(got_full, np.array(want), atol=1e-12)
        self.assertAllClose(got_token, np.array(want), atol=1e-12)
        # The mixed distribution sums to 1 over the vocabulary at each step.
        for t in (5, 30, 59):
            recent = ids[max(0, t - window) : t]
            cache = np.bincount(recent, minlength=5) / len(recent)
            mixed = (1 - lam) * np.exp(log_dist[t]) + lam * cache
            self.assertAlmostEqual(float(mixed.sum()), 1.0, places=12)
            self.assertAlmostEqual(float(np.log(mixed[ids[t]])), want[t])

    def test_extreme_weights(self):
        ids = np.array([3, 1, 3, 2])
        token = np.log(np.full(4, 0.25))
        self.assertAllClose(cache_log_probs(token, ids, 5, 0.0), token)
        with np.errstate(divide="ignore"):
            cache_only = cache_log_probs(token, ids, 5, 1.0)
        self.assertAllClose(
            cache_only, np.array([np.log(0.25), -np.inf, np.log(0.5), -np.inf])
        )

    def test_cache_helps_kneser_ney_on_bursty_text(self):
        train = _bursty_stream(6000, 200, seed=0)
        valid = _bursty_stream(2000, 200, seed=1)
        test = _bursty_stream(2000, 200, seed=2)
        kn = KneserNeyLM(200, order=3).fit(train)
        tuned = CacheLM.tune(kn, valid, windows=(20, 100), lambdas=(0, 0.3))
        self.assertEqual(len(tuned.tuning), 4)
        self.assertEqual(tuned.lam, 0.3)
        self.assertEqual(tuned.perplexity(valid), min(tuned.tuning.values()))
        self.assertLess(tuned.perplexity(test), 0.8 * kn.perplexity(test))
        self.assertAllClose(
            tuned.log_probs(test),
            cache_log_probs(kn.log_probs(test), test, tuned.window, tuned.lam),
        )

    def test_no_gain_on_a_uniform_stream_needs_no_cache(self):
        # With no repetition to exploit, tuning keeps lam = 0.
        ids = np.arange(500) % 250
        tuned = CacheLM.tune(_Uniform(250), ids, windows=(10,))
        self.assertEqual(tuned.lam, 0.0)
        self.assertAlmostEqual(tuned.perplexity(ids), 250.0, places=6)

    def test_errors(self):
        ids = np.array([1, 2, 3])
        token = np.zeros(3)
        with self.assertRaisesRegex(ValueError, "window"):
            cache_log_probs(token, ids, 0, 0.1)
        with self.assertRaisesRegex(ValueError, "lam"):
            cache_log_probs(token, ids, 5, 1.5)
        with self.assertRaisesRegex(ValueError, "log_probs"):
            cache_log_probs(np.zeros(4), ids, 5, 0.1)
        with self.assertRaisesRegex(ValueError, "log_probs"):
            cache_log_probs(np.zeros((4, 5)), ids, 5, 0.1)
        with self.assertRaisesRegex(ValueError, "model"):
            CacheLM(object())
        with self.assertRaisesRegex(ValueError, "window"):
            CacheLM(_Uniform(3), window=2.5)
        with self.assertRaisesRegex(ValueError, "lam"):
            CacheLM(_Uniform(3), lam=-0.1)
        with self.assertRaisesRegex(ValueError, "windows"):
            CacheLM.tune(_Uniform(3), ids, windows=())
        with self.assertRaisesRegex(ValueError, "lambdas"):
            CacheLM.tune(_Uniform(3), ids, lambdas=(0.1, 2.0))
        with self.assertRaisesRegex(ValueError, "lambdas"):
            CacheLM.tune(_Uniform(3), ids, lambdas=())
        with self.assertRaisesRegex(ValueError, "ids"):
            CacheLM(_Uniform(3)).perplexity([])
