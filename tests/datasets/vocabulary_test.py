"""Tokenizers and the vocabulary."""

import os

from kdl import datasets
from kdl.datasets import vocabulary
from tests import test_case


class TokenizeTest(test_case.TestCase):
    def test_word_tokenize(self):
        got = vocabulary.word_tokenize(
            "It is a truth. Universally 1811 acknowledged!\n\nA new "
            "paragraph\u2019s start"
        )
        self.assertEqual(
            got,
            [
                "it",
                "is",
                "a",
                "truth",
                "<eos>",
                "universally",
                "N",
                "acknowledged",
                "<eos>",
                "a",
                "new",
                "paragraph's",
                "start",
                "<eos>",
            ],
        )

    def test_ptb_tokenize(self):
        self.assertEqual(
            vocabulary.ptb_tokenize(" a b \n\n c <unk> N \n"),
            ["a", "b", "<eos>", "c", "<unk>", "N", "<eos>"],
        )


class VocabularyTest(test_case.TestCase):
    def test_round_trip_save_load(self):
        vocab = datasets.Vocabulary(["<unk>", "<eos>", "the", "cat", "sat"])
        ids = vocab.encode("The cat sat. The dog")
        self.assertAllEqual(ids, [2, 3, 4, 1, 2, 0])
        self.assertEqual(vocab.decode(ids), "the cat sat <eos> the <unk>")
        self.assertEqual(vocab.eos_id, 1)
        self.assertEqual(vocab.unk_id, 0)
        path = os.path.join(self.get_temp_dir(), "vocab.json")
        vocab.save(path)
        loaded = datasets.Vocabulary.load(path)
        self.assertEqual(loaded, vocab)
        self.assertAllEqual(loaded.encode(["sat", "mat"]), [4, 0])

    def test_char_level(self):
        vocab = datasets.Vocabulary(["<unk>", "a", "b", " "], level="char")
        self.assertAllEqual(vocab.encode("ab c"), [1, 2, 3, 0])
        self.assertEqual(vocab.decode([2, 1, 3]), "ba ")
        self.assertIsNone(vocab.eos_id)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "level"):
            datasets.Vocabulary(["<unk>"], level="byte")
        with self.assertRaisesRegex(ValueError, "<unk>"):
            datasets.Vocabulary(["a", "<unk>"])
        with self.assertRaisesRegex(ValueError, "unique"):
            datasets.Vocabulary(["<unk>", "a", "a"])
        with self.assertRaisesRegex(ValueError, "Ids"):
            datasets.Vocabulary(["<unk>", "a"]).decode([2])
