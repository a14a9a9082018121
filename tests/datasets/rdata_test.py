"""The R XDR / .rdb reader, on bytes the test builds in R's format."""

import gzip
import os
import pathlib
import struct

from absl.testing import parameterized

from kdl.datasets import rdata
from kdl.datasets.sources import CorruptDataError
from tests.test_case import TestCase


def _named_list_of_int_pairs(names, pairs):
    """list(name = c(a, b), ...) serialized (an .rdx-like index)."""
    out = [b"X\n", struct.pack(">iii", 3, 0x040201, 0x030500)]
    out.append(struct.pack(">i", 5) + b"UTF-8")
    # VECSXP with attributes (a names pairlist).
    out.append(struct.pack(">ii", rdata.VECSXP | (1 << 9), len(pairs)))
    for a, b in pairs:
        out.append(struct.pack(">iiii", rdata.INTSXP, 2, a, b))
    # Pairlist node with a tag: tag = symbol "names", car = STRSXP names.
    out.append(struct.pack(">i", rdata.LISTSXP | (1 << 10)))
    out.append(struct.pack(">ii", rdata.SYMSXP, rdata.CHARSXP | (4 << 12)))
    out.append(struct.pack(">i", 5) + b"names")
    out.append(rdata.serialize_strings(names)[23:])  # Drop the header.
    out.append(struct.pack(">i", rdata.NILVALUE_SXP))
    return b"".join(out)


def _index(variables):
    """The .rdx: list(variables = list(name = c(offset, len)), ...)."""
    inner = _named_list_of_int_pairs(list(variables), variables.values())
    body = inner[23:]
    out = [inner[:23]]
    out.append(struct.pack(">ii", rdata.VECSXP | (1 << 9), 1))
    out.append(body)
    out.append(struct.pack(">i", rdata.LISTSXP | (1 << 10)))
    out.append(struct.pack(">ii", rdata.SYMSXP, rdata.CHARSXP | (4 << 12)))
    out.append(struct.pack(">i", 5) + b"names")
    out.append(rdata.serialize_strings(["variables"])[23:])
    out.append(struct.pack(">i", rdata.NILVALUE_SXP))
    return b"".join(out)


class RdataTest(TestCase):
    def test_character_vector_round_trip(self):
        strings = ["It is a truth", "", None, "caf\u00e9 \u2014 ok"]
        payload = rdata.serialize_strings(strings)
        self.assertEqual(payload[:2], b"X\n")
        self.assertEqual(rdata.unserialize(payload), strings)

    def test_named_list_and_symbol_reference(self):
        payload = _named_list_of_int_pairs(["a", "b"], [(0, 10), (10, 7)])
        self.assertEqual(
            rdata.unserialize(payload), {"a": [0, 10], "b": [10, 7]}
        )

    def test_latin1_and_bad_header(self):
        raw = "na\u00efve".encode("latin-1")
        payload = rdata.serialize_strings(["x"])[:23] + struct.pack(
            ">iii", rdata.STRSXP, 1, rdata.CHARSXP | (4 << 12)
        )
        payload += struct.pack(">i", len(raw)) + raw
        self.assertEqual(rdata.unserialize(payload), ["na\u00efve"])
        with self.assertRaisesRegex(CorruptDataError, "not an XDR payload"):
            rdata.unserialize(b"RDX3\n", name="f.rdb")

    def test_read_rdb_walks_records_and_uses_index(self):
        tmp = pathlib.Path(self.get_temp_dir())
        rec1 = rdata.write_rdb_record(rdata.serialize_strings(["one", "two"]))
        rec2 = rdata.write_rdb_record(rdata.serialize_strings(["three"]))
        path = tmp / "Rdata.rdb"
        path.write_bytes(rec1 + rec2)
        self.assertEqual(
            rdata.read_rdb(path), {"0": ["one", "two"], "1": ["three"]}
        )
        (tmp / "Rdata.rdx").write_bytes(
            gzip.compress(_index({"b": (len(rec1), len(rec2)), "a": (0, 5)}))
        )
        self.assertEqual(
            rdata.read_rdb(path), {"b": ["three"], "a": ["one", "two"]}
        )

    @parameterized.parameters(3, 12, -5)
    def test_truncated_rdb_names_the_file(self, cut):
        rec = rdata.write_rdb_record(rdata.serialize_strings(["a" * 200] * 20))
        path = os.path.join(self.get_temp_dir(), "Rdata.rdb")
        with open(path, "wb") as f:
            f.write(rec + rec[:cut])
        with self.assertRaisesRegex(CorruptDataError, "Rdata.rdb"):
            rdata.read_rdb(path)

    def test_truncated_payload_is_an_error(self):
        payload = rdata.serialize_strings(["abcdef"])
        with self.assertRaisesRegex(CorruptDataError, "truncated"):
            rdata.unserialize(payload[:-3], name="x.rdb")
