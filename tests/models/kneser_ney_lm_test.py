"""Interpolated (modified) Kneser-Ney: hand-computed values, a dict-based
reference written from Chen & Goodman's equations, and properties."""

import collections
import os

import numpy as np

from kdl.models import KneserNeyLM
from kdl.models.kneser_ney_lm import FALLBACK_DISCOUNTS
from kdl.models.kneser_ney_lm import estimate_discounts
from tests.test_case import TestCase


def _zipf_stream(size, vocab_size, seed=0):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab_size + 1)
    return rng.choice(vocab_size, size=size, p=p / p.sum())


def _reference_discounts(adjusted, modified=True):
    # Chen & Goodman (1998) eq. 26, written out again.
    n1, n2, n3, n4 = (sum(1 for c in adjusted if c == r) for r in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    if not modified:
        return (y, y, y)
    return (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)


class ReferenceKN:
    """Interpolated modified KN with dictionaries, straight from the
    equations (slow; for tiny corpora)."""

    def __init__(self, stream, vocab_size, order, discounts=None):
        stream = [int(t) for t in stream]
        self.vocab_size, self.order = vocab_size, order
        raw = {
            k: collections.Counter(
                tuple(stream[i - k + 1 : i + 1])
                for i in range(k - 1, len(stream))
            )
            for k in range(1, order + 1)
        }
        # c_n = raw counts; c_k (k < n) = |{v : c(v g) > 0}|, plus one for
        # the k-gram that opens the stream (its virtual start symbol).
        self.counts = {order: dict(raw[order])}
        for k in range(1, order):
            cont = collections.Counter(g[1:] for g in raw[k + 1])
            cont[tuple(stream[:k])] += 1
            self.counts[k] = dict(cont)
        self.discounts = {
            k: discounts or _reference_discounts(self.counts[k].values())
            for k in range(1, order + 1)
        }

    def prob(self, history, word):
        history = tuple(int(t) for t in history)[-(self.order - 1) :]
        if self.order == 1:
            history = ()
        return self._p(len(history) + 1, history, int(word))

    def _p(self, k, history, word):
        if k == 0:
            return 1.0 / self.vocab_size
        lower = self._p(k - 1, history[1:], word)
        followers = {
            g[-1]: c for g, c in self.counts[k].items() if g[:-1] == history
        }
        total = sum(followers.values())
        if total == 0:
            return lower
        d1, d2, d3 = self.discounts[k]

        def d(c):
            return 0.0 if c == 0 else (d1, d2, d3)[min(c, 3) - 1]

        gamma = sum(d(c) for c in followers.values()) / total
        c = followers.get(word, 0)
        return max(c - d(c), 0.0) / total + gamma * lower


class KneserNeyLMTest(TestCase):
    def test_hand_computed_bigram(self):
        # Ids 0=<unk>, 1=a, 2=b, 3=c; stream "a b a c a b"; order 2; D = 0.5
        # for every count (interpolated KN of Kneser & Ney 1995):
        #   p_2(w|h) = max(c(hw) - D, 0) / c(h.) + D N_1+(h.) / c(h.) p_1(w)
        #   p_1(w)   = max(N_1+(.w) - D, 0) / N_1+(..)
        #              + D N_1+(.) / N_1+(..) / V
        # Continuation counts N_1+(.w): a follows b and c -> 2, plus the
        # stream's start symbol -> 3; b follows a -> 1; c follows a -> 1;
        # <unk> 0. N_1+(..) = 5, 3 types seen: gamma_1 = 0.5 * 3 / 5 = 0.3.
        #   p_1 = (0.3/4, 2.5/5 + 0.075, 0.5/5 + 0.075, 0.5/5 + 0.075)
        #       = (0.075, 0.575, 0.175, 0.175).
        # Bigram counts: ab 2, ba 1, ac 1, ca 1.
        # After a: c(a.) = 3, gamma = 0.5 * 2 / 3 = 1/3:
        #   p(b|a) = 1.5/3 + 0.175/3 = 0.558333..., p(c|a) = 0.5/3 + 0.175/3
        #   = 0.225, p(a|a) = 0.575/3, p(<unk>|a) = 0.075/3 = 0.025.
        # After b: c(b.) = 1, gamma = 0.5: p(a|b) = 0.5 + 0.5 * 0.575
        #   = 0.7875, p(c|b) = 0.5 * 0.175 = 0.0875.
        # After <unk> (never seen as a history): p_1.
        lm = KneserNeyLM(4, order=2, discount=0.5).fit([1, 2, 1, 3, 1, 2])
        self.assertAllClose(
            lm.probs([]), np.array([0.075, 0.575, 0.175, 0.175])
        )
        self.assertAllClose(
            lm.probs([1]),
            np.array([0.025, 0.575 / 3, 0.5 + 0.175 / 3, 0.225]),
        )
        self.assertAllClose(
            lm.probs([2]), np.array([0.0375, 0.7875, 0.0875, 0.0875])
        )
        self.assertAllClose(lm.probs([0]), lm.probs([]))
        # Only the last order-1 tokens matter.
        self.assertAllClose(lm.probs([3, 0, 2]), lm.probs([2]))
        self.assertAlmostEqual(lm.log_prob([2], 1), np.log(0.7875))
        # The stream "a b c": p_1(a) (no history), p(b|a), p(c|b).
        want = np.log([0.575, 0.5 + 0.175 / 3, 0.0875])
        self.assertAllClose(lm.log_probs([1, 2, 3]), want)
        self.assertAlmostEqual(
            lm.perplexity([1, 2, 3]), float(np.exp(-want.mean())), places=10
        )
        self.assertEqual(lm.discounts, [(0.5, 0.5, 0.5)] * 2)
        self.assertEqual(lm.num_ngrams, [3, 4])

    def test_matches_dict_reference_modified_trigram(self):
        # Seed 0 gives count-of-counts n_1..n_4 > 0 at every order, so the
        # estimated discounts are eq. 26's (not the fallback).
        stream = _zipf_stream(400, 30, seed=0)
        test = _zipf_stream(40, 31, seed=2)
        histories = [(), (2,), (30,), (1, 3), (0, 0), (5, 1), (0, 30)]
        for discount in ("modified", (0.4, 0.9, 1.3)):
            lm = KneserNeyLM(31, order=3, discount=discount).fit(stream)
            ref = ReferenceKN(
                stream,
                31,
                3,
                discounts=None if discount == "modified" else discount,
            )
            for k in (1, 2, 3):
                self.assertNotEqual(lm.discounts[k - 1], FALLBACK_DISCOUNTS)
                self.assertAllClose(
                    np.array(lm.discounts[k - 1]),
                    np.array(ref.discounts[k]),
                    atol=1e-12,
                )
            for history in histories:
                want = np.array([ref.prob(history, w) for w in range(31)])
                self.assertAllClose(lm.probs(history), want, atol=1e-12)
            want = np.log(
                [
                    ref.prob(test[max(0, t - 2) : t], test[t])
                    for t in range(len(test))
                ]
            )
            self.assertAllClose(lm.log_probs(test), want, atol=1e-12)

    def test_distributions_sum_to_one(self):
        train = _zipf_stream(20000, 500)
        for discount in ("modified", "single", 0.7):
            lm = KneserNeyLM(500, order=5, discount=discount).fit(train)
            contexts = [
                [],
                [3],
                list(train[100:104]),  # seen
                list(train[5000:5010]),  # longer than order - 1
                [499, 498, 497, 496],  # unseen
                [1, 2, 10**6],  # an out-of-vocabulary id
            ]
            for context in contexts:
                p = lm.probs(context)
                self.assertEqual(p.shape, (500,))
                self.assertTrue(np.all(p > 0))
                self.assertAlmostEqual(float(p.sum()), 1.0, places=10)

    def test_stream_scores_equal_single_queries(self):
        train = _zipf_stream(5000, 50, seed=3)
        lm = KneserNeyLM(50, order=4).fit(train)
        test = _zipf_stream(30, 50, seed=4)
        got = lm.log_probs(test)
        for t in range(len(test)):
            self.assertAlmostEqual(
                got[t], lm.log_prob(test[:t], test[t]), places=12
            )
            self.assertAlmostEqual(
                got[t], np.log(lm.probs(test[:t])[test[t]]), places=12
            )

    def test_unknown_ids_read_as_unk(self):
        lm = KneserNeyLM(10, order=3, unk_id=0).fit(_zipf_stream(500, 10))
        self.assertEqual(lm.log_prob([4, 5], 99), lm.log_prob([4, 5], 0))
        self.assertEqual(lm.log_prob([4, -3], 2), lm.log_prob([4, 0], 2))
        self.assertAllClose(
            lm.log_probs([1, 42, 3, 10]), lm.log_probs([1, 0, 3, 0])
        )
        # Out-of-range training ids are counted as <unk> too.
        a = KneserNeyLM(10, order=2).fit([1, 2, 77, 3, 1])
        b = KneserNeyLM(10, order=2).fit([1, 2, 0, 3, 1])
        self.assertAllClose(a.probs([0]), b.probs([0]))

    def test_more_context_helps_on_structured_text(self):
        # A stream of repeated 6-token phrases: a 5-gram predicts it far
        # better than a bigram, and better than a uniform guess.
        rng = np.random.default_rng(0)
        phrases = rng.integers(0, 100, size=(20, 6))
        stream = phrases[rng.integers(0, 20, size=3000)].reshape(-1)
        test = phrases[rng.integers(0, 20, size=200)].reshape(-1)
        ppl = {
            n: KneserNeyLM(100, order=n).fit(stream).perplexity(test)
            for n in (1, 2, 5)
        }
        self.assertLess(ppl[5], ppl[2])
        self.assertLess(ppl[2], ppl[1])
        self.assertLess(ppl[1], 100)
        self.assertLess(ppl[5], 4)

    def test_estimate_discounts(self):
        # n1 = 4, n2 = 2, n3 = 2, n4 = 1: Y = 4 / 8 = 0.5;
        # D1 = 1 - 2 * 0.5 * 2/4 = 0.5, D2 = 2 - 3 * 0.5 * 2/2 = 0.5,
        # D3+ = 3 - 4 * 0.5 * 1/2 = 2.
        counts = [1, 1, 1, 1, 2, 2, 3, 3, 4, 7]
        self.assertAllClose(estimate_discounts(counts), (0.5, 0.5, 2.0))
        self.assertAllClose(
            estimate_discounts(counts, modified=False), (0.5, 0.5, 0.5)
        )
        self.assertEqual(estimate_discounts([1, 1, 5]), FALLBACK_DISCOUNTS)
        self.assertEqual(estimate_discounts([1, 2]), FALLBACK_DISCOUNTS)
        self.assertEqual(
            estimate_discounts([2, 3], modified=False), (0.5, 0.5, 0.5)
        )

    def test_short_streams_and_orders(self):
        # Fewer tokens than the order: the missing orders back off.
        lm = KneserNeyLM(5, order=5).fit([1, 2])
        self.assertAlmostEqual(float(lm.probs([1, 2, 3, 1]).sum()), 1.0)
        self.assertEqual(lm.num_ngrams, [2, 1, 0, 0, 0])
        unigram = KneserNeyLM(3, order=1, discount="single").fit([1, 1, 2])
        self.assertAllClose(unigram.probs([2, 1]), unigram.probs([]))
        self.assertAlmostEqual(float(unigram.probs([]).sum()), 1.0)

    def test_save_load(self):
        lm = KneserNeyLM(50, order=3, discount="single")
        lm.fit(_zipf_stream(2000, 50))
        path = os.path.join(self.get_temp_dir(), "kn.npz")
        lm.save(path)
        loaded = KneserNeyLM.load(path)
        self.assertEqual(loaded.get_config(), lm.get_config())
        self.assertEqual(loaded.discounts, lm.discounts)
        self.assertEqual(loaded.num_ngrams, lm.num_ngrams)
        test = _zipf_stream(300, 50, seed=9)
        self.assertAllEqual(loaded.log_probs(test), lm.log_probs(test))
        tuple_lm = KneserNeyLM(5, 2, discount=(0.5, 1.0, 1.5)).fit([1, 2, 1])
        tuple_lm.save(path)
        self.assertEqual(
            KneserNeyLM.load(path).discount, (0.5, 1.0, 1.5), tuple_lm
        )

    def test_scales_to_a_large_stream(self):
        # A sixth of the 600K-token / 10K-vocabulary case (its time is the
        # recipe's, in results/): the counts are of distinct n-grams, at
        # most one new one per token and order, never vocab^n.
        train = _zipf_stream(100_000, 10_000)
        test = _zipf_stream(15_000, 10_000, seed=1)
        lm = KneserNeyLM(10_000, order=5).fit(train)
        ppl = lm.perplexity(test)
        self.assertTrue(np.isfinite(ppl))
        self.assertLen(lm.num_ngrams, 5)
        self.assertLessEqual(lm.num_ngrams[0], 10_000)
        for n, count in enumerate(lm.num_ngrams, start=1):
            self.assertLessEqual(count, len(train) - n + 1)
        for d in lm.discounts:
            self.assertTrue(0 < d[0] <= 1 and 0 < d[1] <= 2 and 0 < d[2] <= 3)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "vocab_size"):
            KneserNeyLM(0)
        with self.assertRaisesRegex(ValueError, "order"):
            KneserNeyLM(10, order=2.0)
        with self.assertRaisesRegex(ValueError, "discount"):
            KneserNeyLM(10, discount="kneser")
        with self.assertRaisesRegex(ValueError, "discount"):
            KneserNeyLM(10, discount=1.5)
        with self.assertRaisesRegex(ValueError, "discount"):
            KneserNeyLM(10, discount=(0.5, 2.5, 1.0))
        with self.assertRaisesRegex(ValueError, "discount"):
            KneserNeyLM(10, discount=True)
        with self.assertRaisesRegex(ValueError, "unk_id"):
            KneserNeyLM(10, unk_id=10)
        lm = KneserNeyLM(10)
        with self.assertRaisesRegex(ValueError, "not fitted"):
            lm.perplexity([1, 2])
        with self.assertRaisesRegex(ValueError, "ids"):
            lm.fit([])
        with self.assertRaisesRegex(ValueError, "ids"):
            lm.fit(np.zeros((2, 3), "int32"))
        with self.assertRaisesRegex(ValueError, "ids"):
            lm.fit([0.5, 1.0])
        lm.fit([1, 2, 3])
        with self.assertRaisesRegex(ValueError, "ids"):
            lm.perplexity([])
        with self.assertRaisesRegex(ValueError, "context"):
            lm.probs([[1, 2]])
