"""Text corpora (`load_text`), on files the tests write."""

import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from kdl import datasets
from kdl.datasets import rdata
from kdl.datasets import text_data
from tests import test_case

NOVEL = [
    "CHAPTER 1",
    "",
    "It is a truth universally acknowledged, that a single man in",
    "possession of a good fortune, must be in want of a wife.",
    "",
    "However little known the feelings or views of such a man may be on his",
    "first entering a neighbourhood, this truth is so well fixed!  In 1811?",
]


def write_austen(folder, copies=30):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = b"".join(
        rdata.write_rdb_record(rdata.serialize_strings(NOVEL * copies))
        for _ in range(2)
    )
    (folder / "Rdata.rdb").write_bytes(records)
    return folder


def write_ptb(folder):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = {
        "train": " the cat sat on the mat \n the dog sat \n",
        "valid": " the cat ran \n",
        "test": " a bird sat \n",
    }
    for split, body in lines.items():
        (folder / f"ptb.{split}.txt").write_text(body * 3)
    return folder


class LoadTextTest(test_case.TestCase):
    def setUp(self):
        super().setUp()
        self.cache = self.get_temp_dir()

    def test_austen_from_path_splits_and_cache(self):
        folder = write_austen(os.path.join(self.get_temp_dir(), "aus"))
        data = datasets.load_text(
            "austen", path=folder, vocab_size=12, data_dir=self.cache
        )
        n = len(data.train) + len(data.valid) + len(data.test)
        self.assertEqual(len(data.train), int(n * 0.8))
        self.assertEqual(len(data.valid), int(n * 0.9) - int(n * 0.8))
        self.assertEqual(len(data.vocab), 12)
        self.assertEqual(data.vocab.tokens[:2], ["<unk>", "<eos>"])
        self.assertEqual(data.vocab.tokens[2], "a")  # The most frequent.
        self.assertEqual(data.vocab.decode(data.train[:3]), "chapter N <eos>")
        self.assertEqual(data.train.dtype, np.int32)
        self.assertGreater((data.train == 0).sum(), 0)  # <unk> used.
        # The parse is cached as .npy: a second load skips the parser.
        cached = list(pathlib.Path(self.cache, "text").glob("*/ids.npy"))
        self.assertEqual(len(cached), 1)
        os.remove(folder / "Rdata.rdb")
        again = datasets.load_text(
            "austen", path=folder, vocab_size=12, data_dir=self.cache
        )
        self.assertAllEqual(again.train, data.train)
        full = datasets.load_text(
            "austen", path=folder, vocab_size=None, data_dir=self.cache
        )
        self.assertFalse((full.train == 0).any())

    def test_char_level(self):
        folder = write_austen(os.path.join(self.get_temp_dir(), "aus"), 3)
        data = datasets.load_text(
            "austen", level="char", path=folder, data_dir=self.cache
        )
        self.assertEqual(data.vocab.decode(data.train[:9]), "CHAPTER 1")
        self.assertEqual(data.vocab.tokens[0], "<unk>")
        self.assertNotIn("<eos>", data.vocab.tokens)

    def test_ptb_own_splits(self):
        folder = write_ptb(os.path.join(self.get_temp_dir(), "ptb"))
        data = datasets.load_text("ptb", path=folder, data_dir=self.cache)
        self.assertEqual(len(data.train), 3 * (7 + 4))
        # "ran" never occurs in train: <unk>.
        self.assertEqual(
            data.vocab.decode(data.valid[:4]), "the cat <unk> <eos>"
        )
        # "a" and "bird" never occur in train: <unk>.
        self.assertEqual(
            data.vocab.decode(data.test[:4]), "<unk> <unk> sat <eos>"
        )

    def test_shakespeare_from_folder(self):
        folder = pathlib.Path(self.get_temp_dir(), "texts")
        folder.mkdir()
        (folder / "b_gut.txt").write_text("To be, or not to be.\n")
        (folder / "a_gut.txt").write_text("HAMLET\n")
        (folder / "a_gut_f.txt").write_text("ignored folio\n")
        data = datasets.load_text(
            "shakespeare", level="char", path=folder, data_dir=self.cache
        )
        stream = np.concatenate([data.train, data.valid, data.test])
        # "." occurs only in the test split: <unk> (train-only vocabulary).
        self.assertEqual(
            data.vocab.decode(stream),
            "HAMLET\n\n\nTo be, or not to be<unk>\n",
        )

    def test_unknown_name_and_level(self):
        with self.assertRaisesRegex(ValueError, "name='nope'"):
            datasets.load_text("nope")
        with self.assertRaisesRegex(ValueError, "level='byte'"):
            datasets.load_text("austen", level="byte")
        with self.assertRaisesRegex(ValueError, "vocab_size"):
            datasets.load_text("austen", vocab_size=1)

    def test_error_lists_every_source_tried(self):
        old = text_data.AUSTEN_ROOT
        text_data.AUSTEN_ROOT = "/nonexistent/janeaustenr/data"
        self.addCleanup(setattr, text_data, "AUSTEN_ROOT", old)
        os.environ["KDL_APT_GET"] = "false"
        self.addCleanup(os.environ.pop, "KDL_APT_GET")
        with self.assertRaises(datasets.DatasetNotFoundError) as ctx:
            datasets.load_text("austen", data_dir=self.cache)
        msg = str(ctx.exception)
        self.assertIn("installed at /nonexistent/janeaustenr/data", msg)
        self.assertIn("cached in", msg)
        self.assertIn("apt-get download", msg)
        self.assertIn("false download r-cran-janeaustenr failed", msg)
        self.assertIn("sudo apt-get install r-cran-janeaustenr", msg)
        self.assertEqual(len(ctx.exception.attempts), 3)

    def test_offline_ptb_fails_fast_and_says_how(self):
        os.environ["KDL_OFFLINE"] = "1"
        self.addCleanup(os.environ.pop, "KDL_OFFLINE")
        with test_case.connection_attempts() as attempts:
            with self.assertRaises(datasets.DatasetNotFoundError) as ctx:
                datasets.load_text("ptb", data_dir=self.cache)
        self.assertEqual(attempts, [])
        msg = str(ctx.exception)
        self.assertIn("ptb.{train,valid,test}.txt", msg)
        self.assertIn("offline", msg)
        self.assertIn("path=", msg)
        self.assertIn(
            "offline substitute: kdl.datasets.load_text('austen')", msg
        )

    def test_missing_explicit_path(self):
        with self.assertRaisesRegex(
            datasets.DatasetNotFoundError, "explicit path .*does not exist"
        ):
            datasets.load_text("ptb", path="/nonexistent/ptb")

    def test_corrupt_file_is_named(self):
        folder = write_austen(os.path.join(self.get_temp_dir(), "aus"))
        path = folder / "Rdata.rdb"
        path.write_bytes(path.read_bytes()[:-100])
        with self.assertRaisesRegex(datasets.CorruptDataError, "Rdata.rdb"):
            datasets.load_text("austen", path=folder, data_dir=self.cache)


@pytest.mark.slow
def test_real_austen():
    data = datasets.load_text("austen")
    assert len(data.train) > 600_000
    assert len(data.vocab) == 10000
    assert data.vocab.decode(data.train[:3]) == "sense and sensibility"
    assert (data.train == data.vocab.unk_id).mean() < 0.01
    char = datasets.load_text("austen", level="char")
    assert len(char.train) > 3_000_000


class FakeTfdsBuilder:
    """Stands in for a prepared `tfds` builder (tfds cannot download here)."""

    def __init__(self, splits, data_dir="/fake/tfds"):
        self.splits = splits
        self.data_dir = data_dir

    def is_prepared(self):
        return True

    def as_dataset(self, split, batch_size=None):
        data = self.splits[split]
        if batch_size == -1:
            return {k: tf.constant(v) for k, v in data.items()}
        return tf.data.Dataset.from_tensor_slices(data)


class MoreCorporaTest(test_case.TestCase):
    def test_web_bible_from_module_folder(self):
        from kdl.datasets import sword
        from tests.datasets.sword_test import module_slots

        folder = os.path.join(self.get_temp_dir(), "web")
        verses = [f"Verse {i} says hello." for i in range(1, 21)]
        sword.write_module(
            folder,
            {
                "ot": module_slots(
                    [("Gen", [verses[:10]]), ("Exod", [verses[10:]])]
                )
            },
        )
        data = datasets.load_text(
            "web_bible", path=folder, data_dir=self.get_temp_dir()
        )
        self.assertEqual(
            data.vocab.decode(data.train[:5]), "verse N says hello <eos>"
        )
        self.assertEqual(
            len(data.train) + len(data.valid) + len(data.test), 100
        )

    def test_tiny_shakespeare_from_tfds(self):
        from unittest import mock

        splits = {
            "train": {"text": ["First Citizen:\nBefore we proceed."]},
            "validation": {"text": ["Speak, speak."]},
            "test": {"text": ["All:\nResolved."]},
        }
        with mock.patch(
            "tensorflow_datasets.builder",
            lambda name, data_dir=None: FakeTfdsBuilder(splits),
        ):
            data = datasets.load_text(
                "tiny_shakespeare",
                level="char",
                data_dir=self.get_temp_dir(),
            )
        self.assertEqual(data.source, "tfds tiny_shakespeare (prepared)")
        want = splits["train"]["text"][0]
        self.assertEqual(data.vocab.decode(data.train), want)
        self.assertEqual(len(data.valid), len("Speak, speak."))

    def test_tiny_shakespeare_offline_error(self):
        os.environ["KDL_OFFLINE"] = "1"
        self.addCleanup(os.environ.pop, "KDL_OFFLINE")
        with test_case.connection_attempts() as attempts:
            with self.assertRaises(datasets.DatasetNotFoundError) as ctx:
                datasets.load_text(
                    "tiny_shakespeare",
                    level="char",
                    data_dir=self.get_temp_dir(),
                )
        self.assertEqual(attempts, [])
        msg = str(ctx.exception)
        self.assertIn("tfds tiny_shakespeare (prepared): not prepared", msg)
        self.assertIn("tfds tiny_shakespeare (download): offline", msg)
        self.assertIn("download_and_prepare()", msg)

    def test_tiny_shakespeare_from_file(self):
        path = os.path.join(self.get_temp_dir(), "input.txt")
        with open(path, "w") as f:
            f.write("abcdefghij" * 10)
        data = datasets.load_text(
            "tiny_shakespeare",
            level="char",
            path=path,
            data_dir=self.get_temp_dir(),
        )
        self.assertEqual(
            (len(data.train), len(data.valid), len(data.test)), (90, 5, 5)
        )


@pytest.mark.slow
def test_real_web_bible_and_shakespeare():
    bible = datasets.load_text("web_bible")
    assert len(bible.train) > 700_000
    assert bible.vocab.decode(bible.train[:4]) == "in the beginning god"
    shakespeare = datasets.load_text("shakespeare", level="char")
    assert len(shakespeare.train) > 3_900_000
    assert len(shakespeare.vocab) < 120


def test_undecodable_text_file_is_named(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / f"ptb.{split}.txt").write_text(" a b \n")
    (tmp_path / "ptb.valid.txt").write_bytes(b"\xff\xfe\x00 broken")
    with pytest.raises(datasets.CorruptDataError, match="ptb.valid.txt"):
        datasets.load_text("ptb", path=tmp_path, data_dir=tmp_path / "c")
