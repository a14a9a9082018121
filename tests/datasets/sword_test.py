"""The SWORD zText reader, on modules the tests write in the same format."""

import os

from kdl.datasets import sword
from kdl.datasets.sources import CorruptDataError
from tests.test_case import TestCase

BOOK = '<div osisID="{0}" sID="b{0}" type="book"/><title>The Book</title>'
CHAPTER = '<chapter n="{0}" osisID="X.{0}" sID="X.{0}"/> '
END = ' <chapter eID="X.1"/> <div eID="b1" osisID="Gen" type="book"/>'


def module_slots(book_verses):
    """Slots as osis2mod writes them: headings, then per book/chapter."""
    slots = ["", '<milestone type="x-importer"/>']
    for book, chapters in book_verses:
        slots.append(BOOK.format(book))
        for c, verses in enumerate(chapters, 1):
            slots.append(CHAPTER.format(c))
            slots.extend(verses)
    return slots


class SwordTest(TestCase):
    def test_strip_osis(self):
        raw = (
            'In the <w lemma="strong:H7225">beginning</w>\u00b6 God'
            '<note placement="foot">a <i>note</i></note>created &amp; made.'
            + END
        )
        self.assertEqual(
            sword.strip_osis(raw), "In the beginning God created & made."
        )

    def test_read_module_books_chapters_verses(self):
        tmp = self.get_temp_dir()
        slots = module_slots(
            [
                (
                    "Gen",
                    [["In the beginning.", "And the earth" + END], ["Two."]],
                ),
                ("Exod", [["Now these.", ""]]),
            ]
        )
        sword.write_module(tmp, {"ot": slots, "nt": slots[:2]})
        verses = sword.read_verses(tmp)
        self.assertEqual(
            verses,
            [
                ("Gen", 1, 1, "In the beginning."),
                ("Gen", 1, 2, "And the earth"),  # Keeps the verse with eIDs.
                ("Gen", 2, 1, "Two."),
                ("Exod", 1, 1, "Now these."),
            ],
        )
        rows = sword.read_module(tmp)
        self.assertLen(rows, len(slots) + 2)

    def test_corrupt_block_names_the_file(self):
        tmp = self.get_temp_dir()
        slots = module_slots([("Gen", [["a" * 50, "b" * 50, "c" * 50]])])
        sword.write_module(tmp, {"ot": slots}, block_size=4)
        bzz = os.path.join(tmp, "ot.bzz")
        with open(bzz, "rb") as f:
            data = f.read()
        with open(bzz, "wb") as f:
            f.write(data[:-8])
        with self.assertRaisesRegex(CorruptDataError, "ot.bzz"):
            sword.read_verses(tmp)
        with open(bzz, "wb") as f:
            f.write(data[:5] + b"\x00" * 10 + data[15:])
        with self.assertRaisesRegex(CorruptDataError, "ot.bzz"):
            sword.read_verses(tmp)
        with open(os.path.join(tmp, "ot.bzv"), "ab") as f:
            f.write(b"xyz")
        with self.assertRaisesRegex(CorruptDataError, "ot.bzv"):
            sword.read_verses(tmp)

    def test_empty_folder(self):
        with self.assertRaisesRegex(CorruptDataError, "no ot/nt"):
            sword.read_module(self.get_temp_dir())
