"""Sentence pairs (`load_pairs`), on data the tests make."""

import datetime
import os

import pytest

from kdl import datasets
from kdl.datasets import pair_data
from kdl.datasets import sword
from tests import test_case
from tests.datasets.sword_test import module_slots


def write_bible(root, books, spanish=False):
    """A module per language under `root` with the given books."""
    name = pair_data.RV1909[1] if spanish else pair_data.KJV[1]
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
        old = pair_data.SWORD_ROOT
        pair_data.SWORD_ROOT = "/nonexistent/sword"
        self.addCleanup(setattr, pair_data, "SWORD_ROOT", old)
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
        pairs = pair_data.make_dates(
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
            pair_data.make_dates(400, first_year=2000, last_year=2000)

    def test_unknown(self):
        with self.assertRaisesRegex(ValueError, "name='wmt'"):
            datasets.load_pairs("wmt")


@pytest.mark.slow
def test_real_kjv_rv1909():
    data = datasets.load_pairs("kjv_rv1909")
    total = len(data.train) + len(data.valid) + len(data.test)
    assert total > 30000
    assert data.train[0][0].startswith("In the beginning God created")
    assert "principio" in data.train[0][1]
    assert not set(data.train) & set(data.test)
