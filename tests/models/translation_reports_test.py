"""kdl/models/translation_reports.py: test sentences, heatmaps, report."""

import copy
import os

import numpy as np
import pytest

import kdl
from kdl.datasets import TranslationVectorizers
from tests.test_case import TestCase
from tests.test_case import backend

if backend() != "tensorflow":
    # Every test here reads TranslationVectorizers (kdl.datasets), built
    # on ragged TextVectorization, which Keras has on TensorFlow only.
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


def small(attention=True):
    return kdl.models.build_translation_model(
        *IDS,
        attention=attention,
        embedding_dim=8,
        units=8,
        attention_units=8,
        max_output_length=12,
    )


class EvaluationSentencesTest(TestCase):
    def test_short_enough_sources_and_a_seeded_subset(self):
        test = pairs(30, seed=1)
        lengths = kdl.models.source_lengths(VEC, [s for s, _ in test])
        sources, refs = kdl.models.evaluation_sentences(VEC, test, 5, 100)
        self.assertEqual(len(sources), int(np.sum(lengths <= 5)))
        self.assertEqual(
            refs,
            kdl.models.reference_tokens(
                VEC, [t for s, t in test if s in sources]
            ),
        )
        few, _ = kdl.models.evaluation_sentences(VEC, test, 9, 4, seed=2)
        self.assertLen(few, 4)
        order = [s for s, _ in test if s in few]
        self.assertEqual(few, order)  # kept in their order
        again, _ = kdl.models.evaluation_sentences(VEC, test, 9, 4, seed=2)
        self.assertEqual(again, few)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "max_length"):
            kdl.models.evaluation_sentences(VEC, pairs(2), 0, 4)
        with self.assertRaisesRegex(ValueError, "count"):
            kdl.models.evaluation_sentences(VEC, pairs(2), 4, 1.5)


class TranslationReportTest(TestCase):
    def test_heatmaps_and_report_files(self):
        directory = self.get_temp_dir()
        sources = [s for s, _ in pairs(7, seed=1)]
        paths = kdl.models.save_alignment_heatmaps(
            small(), VEC, sources, directory, count=2
        )
        self.assertEqual(
            [os.path.basename(p) for p in paths],
            ["alignment_0.png", "alignment_1.png"],
        )
        refs = kdl.models.reference_tokens(VEC, [t for _, t in pairs(7, 1)])
        runs = {}
        for name, attention in (("attention", True), ("plain", False)):
            test = kdl.models.evaluate_translation(
                small(attention), VEC, sources, refs, [4, 12], [2]
            )
            history = {"loss": [2.0, 1.5], "val_loss": [2.1, 1.8]}
            runs[name] = {"history": history, "test": test, "train_seconds": 6}
        self.assertEqual(
            kdl.models.bleu_by_length(runs["plain"]["test"], "beam2"),
            [
                b["bleu"]
                for b in test["beam2"]["bleu_by_source_length"].values()
            ],
        )
        table = kdl.models.save_translation_report(
            runs, directory, [4, 12], [2], title="tiny"
        )
        self.assertIn("| attention |", table)
        self.assertIn("BLEU beam2", table.splitlines()[0])
        for name in ("learning_curves.png", "bleu_by_length.png", "table.md"):
            self.assertTrue(os.path.exists(os.path.join(directory, name)))

        # Seeds: a cell is the mean +- sd of the seeds' values.
        first = runs["plain"]
        second = copy.deepcopy(first)
        second["test"]["greedy"]["bleu"] = first["test"]["greedy"]["bleu"] + 2
        table = kdl.models.save_translation_report(
            {"plain": [first, second]}, directory, [4, 12], [2]
        )
        greedy = [r["test"]["greedy"]["bleu"] for r in (first, second)]
        cell = f"{np.mean(greedy):.2f} ± {np.std(greedy, ddof=1):.2f}"
        self.assertEqual(table.splitlines()[2].split(" | ")[1], cell)
        self.assertTrue(table.splitlines()[2].endswith("| 2 |"))
        with self.assertRaisesRegex(ValueError, "plain"):
            kdl.models.save_translation_report(
                {"plain": []}, directory, [4, 12], [2]
            )

    def test_mean_bleu_by_length_averages_each_bin(self):
        def test(*bleus):
            bins = {f"b{i}": {"bleu": b} for i, b in enumerate(bleus)}
            return {"greedy": {"bleu_by_source_length": bins}}

        tests = [test(10.0, None, 4.0), test(20.0, None, None)]
        self.assertEqual(
            kdl.models.mean_bleu_by_length(tests, "greedy"), [15.0, None, 4.0]
        )
        with self.assertRaisesRegex(ValueError, "tests"):
            kdl.models.mean_bleu_by_length([], "greedy")

    def test_heatmap_count_is_checked(self):
        with self.assertRaisesRegex(ValueError, "count"):
            kdl.models.save_alignment_heatmaps(small(), VEC, [], "x", -1)
