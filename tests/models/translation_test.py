"""Tests for kdl/models/translation.py: build, decode and score."""

import math

import keras
import numpy as np
import pytest

from kdl.datasets import TranslationVectorizers
from kdl.models import Seq2Seq
from kdl.models import Seq2SeqAttention
from kdl.models import build_translation_model
from kdl.models import corpus_bleu
from kdl.models import evaluate_translation
from kdl.models import masked_loss
from kdl.models import reference_tokens
from kdl.models import score_translations
from kdl.models import source_lengths
from kdl.models import target_tokens
from kdl.models import translate
from kdl.models import translation_alignment
from kdl.models import translation_alignments
from tests.test_case import TestCase
from tests.test_case import backend

if backend() != "tensorflow":
    # Every test here starts from TranslationVectorizers (kdl.datasets),
    # built on ragged TextVectorization, which Keras has on TensorFlow only.
    pytest.skip(
        "TensorFlow only (kdl.datasets.TranslationVectorizers uses ragged "
        f"TextVectorization); backend is {backend()!r}",
        allow_module_level=True,
    )

ENGLISH = ["one", "two", "three", "four", "five", "six"]
SPANISH = ["uno", "dos", "tres", "cuatro", "cinco", "seis"]


def pairs(n=40, seed=0):
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        idx = rng.randint(0, len(ENGLISH), size=rng.randint(1, 9))
        out.append(
            (
                " ".join(ENGLISH[i] for i in idx) + ".",
                " ".join(SPANISH[i] for i in idx) + ".",
            )
        )
    return out


VEC = TranslationVectorizers.adapt(pairs(), 20, 20)
IDS = (VEC.source_vocab_size, VEC.target_vocab_size, VEC.start_id, VEC.end_id)
SOURCES = [s for s, _ in pairs(7, seed=1)]


def small(attention=True):
    return build_translation_model(
        *IDS,
        attention=attention,
        embedding_dim=8,
        units=8,
        attention_units=8,
        max_output_length=12,
    )


class BuildTest(TestCase):
    def test_attention_and_baseline(self):
        model = small()
        self.assertIsInstance(model, Seq2SeqAttention)
        self.assertEqual(model.name, "attention")
        self.assertTrue(model.built)
        # TensorFlow's XLA cannot compile the decoder's gradient; JAX's can.
        self.assertEqual(model.jit_compile, backend() == "jax")
        self.assertEqual(model.optimizer.clipnorm, 1.0)
        baseline = small(attention=False)
        self.assertIsInstance(baseline, Seq2Seq)
        self.assertNotIsInstance(baseline, Seq2SeqAttention)
        self.assertEqual(baseline.name, "no_attention")

    def test_masked_loss_is_token_cross_entropy(self):
        loss = masked_loss()
        self.assertIsInstance(loss, keras.losses.SparseCategoricalCrossentropy)
        logits = np.zeros((1, 2, 5), "float32")
        value = loss(np.array([[1, 2]]), logits)
        self.assertAllClose(value, math.log(5), rtol=1e-5)


class TokensTest(TestCase):
    def test_target_tokens_stop_at_end(self):
        ids = VEC.target(["uno dos."]).to_list()[0]
        row = [VEC.start_id] + ids + [VEC.end_id, 5, 0]
        self.assertEqual(target_tokens(VEC, [row]), ["uno dos ."])

    def test_references_are_standardised_like_the_target(self):
        self.assertEqual(reference_tokens(VEC, ["Uno, dos."]), ["uno , dos ."])

    def test_source_lengths(self):
        self.assertAllEqual(source_lengths(VEC, ["one two.", "three"]), [3, 1])


class ScoreTest(TestCase):
    def test_corpus_bleu(self):
        refs = ["uno dos tres cuatro .", "cinco seis uno dos ."]
        self.assertAllClose(corpus_bleu(refs, refs), 100.0)
        self.assertTrue(math.isnan(corpus_bleu([], [])))

    def test_score_by_source_length(self):
        refs = ["a b c d", "e f g h", "i j k l"]
        hyps = ["a b c d", "x y z w", "i j k l"]
        scores = score_translations(hyps, refs, [2, 5, 9], [4, 8, 12])
        self.assertAllClose(scores["exact_match"], 2 / 3)
        bins = scores["bleu_by_source_length"]
        self.assertEqual(list(bins), ["1-4", "5-8", "9-12"])
        self.assertAllClose(bins["1-4"]["bleu"], 100.0)
        self.assertAllClose(bins["5-8"]["bleu"], 0.0)
        self.assertEqual([b["sentences"] for b in bins.values()], [1, 1, 1])
        empty = score_translations(hyps, refs, [2, 5, 9], [1, 12])
        self.assertTrue(
            math.isnan(empty["bleu_by_source_length"]["1-1"]["bleu"])
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "one entry per sentence"):
            score_translations(["a"], ["a", "b"], [1, 2], [4])
        with self.assertRaisesRegex(ValueError, "bins"):
            score_translations(["a"], ["a"], [1], [8, 4])


class DecodeTest(TestCase):
    def test_translate_keeps_the_input_order(self):
        class Echo:
            """Emits target token `4 + source length % 5`, then [end]."""

            def greedy_decode(self, source_ids, max_length):
                lengths = np.sum(np.asarray(source_ids) > 0, axis=1)
                end = np.full_like(lengths, VEC.end_id)
                return np.stack([4 + lengths % 5, end], axis=1)

            def beam_search(self, source_ids, beam_width, **kwargs):
                return self.greedy_decode(source_ids, 0)[:, None], None

        lengths = source_lengths(VEC, SOURCES)
        expected = [VEC.target_vocabulary[4 + n % 5] for n in lengths]
        for width in (1, 2):
            got = translate(Echo(), VEC, SOURCES, width, batch_size=2)
            self.assertEqual(got, expected)
        model = small()
        self.assertLen(translate(model, VEC, SOURCES, beam_width=2), 7)

    def test_translate_reverse_source(self):
        class First:
            """Emits target `4 + first source id % 5`, then [end]."""

            def greedy_decode(self, source_ids, max_length):
                first = 4 + np.asarray(source_ids)[:, 0] % 5
                return np.stack([first, np.full_like(first, VEC.end_id)], 1)

        src = VEC.source(SOURCES).to_list()
        for reverse, pick in ((False, 0), (True, -1)):
            got = translate(First(), VEC, SOURCES, reverse_source=reverse)
            want = [VEC.target_vocabulary[4 + r[pick] % 5] for r in src]
            self.assertEqual(got, want)

    def test_evaluate_translation(self):
        model = small(attention=False)
        refs = reference_tokens(VEC, [t for _, t in pairs(7, seed=1)])
        scores = evaluate_translation(
            model, VEC, SOURCES, refs, [4, 12], beam_widths=[2], examples=2
        )
        self.assertEqual(list(scores), ["greedy", "beam2"])
        for s in scores.values():
            self.assertLen(s["examples"], 2)
            self.assertEqual(set(s["bleu_by_source_length"]), {"1-4", "5-12"})
            self.assertGreater(s["sentences_per_second"], 0)

    def test_alignments(self):
        model = small()
        weights, source, output = translation_alignment(model, VEC, "one two.")
        self.assertEqual(source, ["one", "two", "."])
        self.assertEqual(weights.shape, (len(output), 3))
        self.assertAllClose(weights.sum(-1), np.ones(len(output)), atol=1e-5)
        found = translation_alignments(
            model, VEC, SOURCES, count=2, min_length=2
        )
        self.assertLen(found, 2)
        self.assertIn(found[0][0], SOURCES)
        with self.assertRaisesRegex(ValueError, "attention"):
            translation_alignment(small(attention=False), VEC, "one two.")
