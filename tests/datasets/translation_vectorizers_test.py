"""The translation vectorizers and `standardize_text`."""

import os

import numpy as np
import tensorflow as tf

from kdl import datasets
from kdl.datasets import translation_vectorizers
from tests import test_case

PAIRS = [
    ("The cat sat.", "El gato se sentó."),
    ("The dog ran!", "¡El perro corrió!"),
    ("A cat, a dog.", "Un gato, un perro."),
    (
        "The cat sat on the dog, and the dog ran away from the cat.",
        "El gato se sentó sobre el perro, y el perro huyó del gato.",
    ),
] * 5


class VectorizerTest(test_case.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.vec = datasets.TranslationVectorizers.adapt(PAIRS, 20, 20)

    def test_vocabularies(self):
        vec = self.vec
        self.assertEqual(
            vec.target_vocabulary[:4], ["", "[UNK]", "[start]", "[end]"]
        )
        self.assertEqual(vec.source_vocabulary[:2], ["", "[UNK]"])
        self.assertEqual(vec.target_vocab_size, 4 + 15)  # All 15 words.
        small = datasets.TranslationVectorizers.adapt(PAIRS, 6, 8)
        self.assertEqual(small.source_vocab_size, 6)
        self.assertEqual(small.target_vocab_size, 8)
        self.assertEqual(small.target_vocabulary[4], "el")  # Most frequent.
        self.assertIn("¡", vec.target_vocabulary)  # Punctuation tokens.
        self.assertEqual((vec.start_id, vec.end_id, vec.pad_id), (2, 3, 0))

    def test_standardize_eager_and_in_map(self):
        text = tf.constant("¡El PERRO, corrió!")
        want = "¡ el perro , corrió !"
        self.assertEqual(
            translation_vectorizers.standardize_text(text).numpy().decode(),
            want,
        )
        got = next(
            iter(
                tf.data.Dataset.from_tensors(text).map(
                    translation_vectorizers.standardize_text
                )
            )
        )
        self.assertEqual(got.numpy().decode(), want)

    def test_encode_pair_eager_and_in_map(self):
        vec = self.vec
        (src, tin), tout = vec.encode_pair(
            tf.constant("The cat sat."), tf.constant("El gato se sentó.")
        )
        tv = vec.target_vocabulary
        self.assertEqual(
            [tv[i] for i in tout.numpy()],
            ["el", "gato", "se", "sentó", ".", "[end]"],
        )
        self.assertEqual(int(tin[0]), vec.start_id)
        self.assertAllEqual(tin[1:], tout[:-1])
        self.assertEqual(src.dtype, tf.int32)
        ds = tf.data.Dataset.from_tensor_slices(
            (["The cat sat."], ["El gato se sentó."])
        ).map(vec.encode_pair)
        (src2, tin2), tout2 = next(iter(ds))
        self.assertAllEqual(src2, src)
        self.assertAllEqual(tout2, tout)

    def test_decode_and_save_load(self):
        vec = self.vec
        ids = vec.target(["¡El perro corrió!"]).numpy()
        padded = np.concatenate(
            [[[vec.start_id]], ids, [[vec.end_id, 0, 0, 9]]], axis=1
        )
        self.assertEqual(vec.decode_target(padded), ["¡el perro corrió!"])
        self.assertEqual(
            vec.decode_source(vec.encode_source(["The cat, a"])), ["the cat, a"]
        )
        self.assertEqual(
            vec.decode_source([vec.encode_source(["zebra"])[0]]), ["[UNK]"]
        )
        path = os.path.join(self.get_temp_dir(), "vec.json")
        vec.save(path)
        loaded = datasets.TranslationVectorizers.load(path)
        self.assertEqual(loaded.target_vocabulary, vec.target_vocabulary)
        self.assertAllEqual(
            loaded.encode_source(["the dog ran"]),
            vec.encode_source(["the dog ran"]),
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "target vocabulary"):
            datasets.TranslationVectorizers(["", "[UNK]"], ["", "[UNK]"])
        with self.assertRaisesRegex(ValueError, "source_vocab_size"):
            datasets.TranslationVectorizers.adapt(PAIRS, 2, 20)
