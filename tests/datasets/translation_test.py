"""Pairs, vectorizers and the translation pipeline, on data the tests make."""

import datetime
import os

import numpy as np
import pytest
import tensorflow as tf

from kdl import datasets
from kdl.datasets import sword
from kdl.datasets import translation
from tests import test_case
from tests.datasets.sword_test import module_slots

PAIRS = [
    ("The cat sat.", "El gato se sentó."),
    ("The dog ran!", "¡El perro corrió!"),
    ("A cat, a dog.", "Un gato, un perro."),
    (
        "The cat sat on the dog, and the dog ran away from the cat.",
        "El gato se sentó sobre el perro, y el perro huyó del gato.",
    ),
] * 5


def write_bible(root, books, spanish=False):
    """A module per language under `root` with the given books."""
    name = translation.RV1909[1] if spanish else translation.KJV[1]
    word = "Dios" if spanish else "God"
    content = [
        (
            book,
            [
                [f"{word} {book} {c}.{v}" for v in range(1, 4)]
                for c in range(1, 3)
            ],
        )
        for book in books
    ]
    slots = module_slots(content)
    sword.write_module(os.path.join(root, name), {"ot": slots})


class PairsTest(test_case.TestCase):
    def test_kjv_rv1909_from_path_split_by_book(self):
        root = self.get_temp_dir()
        books = ["Gen", "Josh", "Job", "Matt"]
        write_bible(root, books)
        write_bible(root, books, spanish=True)
        data = datasets.load_pairs(
            "kjv_rv1909", path=root, data_dir=self.get_temp_dir()
        )
        self.assertEqual(len(data.train), 12)  # Gen + Matt: 2 x 6 verses.
        self.assertEqual(data.valid[0], ("God Josh 1.1", "Dios Josh 1.1"))
        self.assertEqual(data.test[-1], ("God Job 2.3", "Dios Job 2.3"))
        train_books = {s.split()[1] for s, _ in data.train}
        self.assertEqual(train_books, {"Gen", "Matt"})
        rev = datasets.load_pairs(
            "kjv_rv1909",
            path=root,
            reverse=True,
            data_dir=self.get_temp_dir(),
        )
        self.assertEqual(rev.valid[0], ("Dios Josh 1.1", "God Josh 1.1"))

    def test_versification_mismatch(self):
        root = self.get_temp_dir()
        write_bible(root, ["Gen", "Exod"])
        write_bible(root, ["Gen"], spanish=True)
        with self.assertRaisesRegex(datasets.CorruptDataError, "versific"):
            datasets.load_pairs(
                "kjv_rv1909", path=root, data_dir=self.get_temp_dir()
            )

    def test_error_lists_sources(self):
        old = translation.SWORD_ROOT
        translation.SWORD_ROOT = "/nonexistent/sword"
        self.addCleanup(setattr, translation, "SWORD_ROOT", old)
        os.environ["KDL_APT_GET"] = "false"
        self.addCleanup(os.environ.pop, "KDL_APT_GET")
        with self.assertRaises(datasets.DatasetNotFoundError) as ctx:
            datasets.load_pairs("kjv_rv1909", data_dir=self.get_temp_dir())
        self.assertEqual(len(ctx.exception.attempts), 3)
        msg = str(ctx.exception)
        self.assertIn("sword-text-kjv + sword-text-sparv", msg)
        self.assertIn("apt-get install sword-text-kjv sword-text-sparv", msg)

    def test_dates(self):
        data = datasets.load_pairs("dates", num_examples=500, seed=3)
        self.assertEqual(
            (len(data.train), len(data.valid), len(data.test)), (400, 50, 50)
        )
        again = datasets.load_pairs("dates", num_examples=500, seed=3)
        self.assertEqual(again.test, data.test)
        sources = [s for s, _ in data.train + data.valid + data.test]
        self.assertEqual(len(set(sources)), 500)  # Each date once.
        pairs = translation.make_dates(
            1, formats=("full",), first_year=2025, last_year=2025
        )
        src, tgt = pairs[0]
        d = datetime.datetime.strptime(src, "%A, %B %d, %Y")
        months = [
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ]
        self.assertIn(f"{d.day}. {months[d.month - 1]} 2025", tgt)
        with self.assertRaisesRegex(ValueError, "num_examples"):
            translation.make_dates(400, first_year=2000, last_year=2000)

    def test_unknown(self):
        with self.assertRaisesRegex(ValueError, "name='wmt'"):
            datasets.load_pairs("wmt")


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
            translation.standardize_text(text).numpy().decode(), want
        )
        got = next(
            iter(
                tf.data.Dataset.from_tensors(text).map(
                    translation.standardize_text
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

    def test_teacher_forcing(self):
        (s, tin), tout = translation.teacher_forcing(
            tf.constant([5, 6]), tf.constant([7, 8, 9]), 2, 3
        )
        self.assertAllEqual(tin, [2, 7, 8, 9])
        self.assertAllEqual(tout, [7, 8, 9, 3])
        self.assertAllEqual(s, [5, 6])
        ds = tf.data.Dataset.from_tensors(([5, 6], [7, 8, 9])).map(
            lambda a, b: translation.teacher_forcing(a, b, 2, 3)
        )
        (s2, tin2), tout2 = next(iter(ds))
        self.assertAllEqual(tin2, tin)
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


class TranslationDatasetTest(test_case.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.vec = datasets.TranslationVectorizers.adapt(PAIRS, 30, 30)

    def test_structure_padding_and_tokens(self):
        ds = datasets.translation_dataset(PAIRS, self.vec, batch_size=4)
        count = 0
        for (src, tin), tout in ds:
            count += src.shape[0]
            self.assertEqual(src.dtype, tf.int32)
            self.assertEqual(tin.shape, tout.shape)
            tin, tout = tin.numpy(), tout.numpy()
            self.assertTrue((tin[:, 0] == self.vec.start_id).all())
            for row_in, row_out in zip(tin, tout):
                n = int((row_out != 0).sum())
                self.assertEqual(row_out[n - 1], self.vec.end_id)
                self.assertTrue((row_out[n:] == 0).all())
                self.assertAllEqual(row_in[1:n], row_out[: n - 1])
        self.assertEqual(count, len(PAIRS))

    def test_length_filter_and_buckets(self):
        ds = datasets.translation_dataset(
            PAIRS,
            self.vec,
            batch_size=3,
            max_length=8,
            bucket_boundaries=[7],
            shuffle=False,
        )
        lengths = []
        for (src, tin), tout in ds:
            lengths.append(max(src.shape[1], tout.shape[1]))
            self.assertLessEqual(src.shape[1], 8)
        total = sum(1 for _ in ds.unbatch())
        self.assertEqual(total, 15)  # The long pair is dropped.
        # Buckets: a batch is either all < 7 tokens or all >= 7.
        self.assertTrue(all(n <= 9 for n in lengths))
        self.assertEqual(len({n < 7 for n in lengths}), 2)

    def test_weights_and_shuffle(self):
        ds = datasets.translation_dataset(
            PAIRS, self.vec, batch_size=4, with_weights=True, seed=1
        )
        (src, tin), tout, w = next(iter(ds))
        self.assertAllEqual(w, tf.cast(tout != 0, tf.float32))

        def firsts(d):
            return [tuple(x[0][0].numpy()[0]) for x in d]

        a = firsts(
            datasets.translation_dataset(
                PAIRS, self.vec, batch_size=4, with_weights=True, seed=1
            )
        )
        b = firsts(
            datasets.translation_dataset(
                PAIRS, self.vec, batch_size=4, with_weights=True, seed=1
            )
        )
        self.assertEqual(a, b)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "batch_size"):
            datasets.translation_dataset(PAIRS, self.vec, batch_size=0)
        with self.assertRaisesRegex(ValueError, "max_length=1"):
            datasets.translation_dataset(PAIRS, self.vec, max_length=1)
        with self.assertRaisesRegex(ValueError, "empty"):
            datasets.translation_dataset([], self.vec)


@pytest.mark.slow
def test_real_kjv_rv1909():
    data = datasets.load_pairs("kjv_rv1909")
    total = len(data.train) + len(data.valid) + len(data.test)
    assert total > 30000
    assert data.train[0][0].startswith("In the beginning God created")
    assert "principio" in data.train[0][1]
    assert not set(data.train) & set(data.test)
