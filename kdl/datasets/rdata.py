"""A minimal reader for R's lazy-load databases (`Rdata.rdb` / `Rdata.rdx`).

R packages store their data sets in `data/Rdata.rdb`: a concatenation of
records, each a 4-byte big-endian length (of the uncompressed payload)
followed by one zlib stream. Each payload is an R object in R's XDR
serialization format (`"X\\n"`, then big-endian integers). `Rdata.rdx` is a
gzip-compressed serialized index: a named list whose `variables` entry maps
each object's name to its (offset, length) in the `.rdb` file.

Only what the text corpora need is read: character vectors (STRSXP) and the
index structures (lists, pairlists, symbols, integer/logical/double
vectors). Anything else raises `CorruptDataError` naming the file.
"""

import gzip
import struct
import zlib

from kdl.datasets.sources import CorruptDataError

# SEXP type codes (R Internals, "Serialization formats").
NILSXP = 0
SYMSXP = 1
LISTSXP = 2
CHARSXP = 9
LGLSXP = 10
INTSXP = 13
REALSXP = 14
STRSXP = 16
VECSXP = 19
REFSXP = 255
NILVALUE_SXP = 254
GLOBALENV_SXP = 253
EMPTYENV_SXP = 242
BASEENV_SXP = 241
MISSINGARG_SXP = 251
BASENAMESPACE_SXP = 247

_HAS_ATTR = 1 << 9
_HAS_TAG = 1 << 10


class _Reader:
    """Reads one XDR-serialized R object from `data`."""

    def __init__(self, data, name):
        self.data = data
        self.pos = 0
        self.name = name
        self.refs = []

    def fail(self, what):
        raise CorruptDataError(
            self.name, f"{what} at byte {self.pos} of the R payload"
        )

    def int(self):
        if self.pos + 4 > len(self.data):
            self.fail("truncated integer")
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return value

    def length(self):
        n = self.int()
        if n == -1:  # Long vector: two more ints.
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        if n < 0:
            self.fail(f"negative length {n}")
        return n

    def bytes(self, n):
        if self.pos + n > len(self.data):
            self.fail(f"truncated string of {n} bytes")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def header(self):
        if self.data[:2] != b"X\n":
            self.fail(f"not an XDR payload (starts with {self.data[:2]!r})")
        self.pos = 2
        version = self.int()
        self.int()  # Writer's R version.
        self.int()  # Minimal reader version.
        if version == 3:
            self.bytes(self.int())  # Native encoding name.
        elif version != 2:
            self.fail(f"unsupported serialization version {version}")

    def charsxp(self, flags):
        n = self.int()
        if n == -1:
            return None  # NA_character_.
        raw = self.bytes(n)
        # Bit 3 of the levels marks latin1; bit 2 UTF-8 (or ASCII).
        encoding = "latin-1" if (flags >> 12) & 4 else "utf-8"
        return raw.decode(encoding, errors="replace")

    def attributes(self, flags):
        if flags & _HAS_ATTR:
            return self.item()
        return None

    def item(self):
        flags = self.int()
        kind = flags & 0xFF
        if kind == NILVALUE_SXP or kind in (
            GLOBALENV_SXP,
            EMPTYENV_SXP,
            BASEENV_SXP,
            MISSINGARG_SXP,
            BASENAMESPACE_SXP,
        ):
            return None
        if kind == REFSXP:
            index = flags >> 8
            if index == 0:
                index = self.int()
            if not 1 <= index <= len(self.refs):
                self.fail(f"bad reference {index}")
            return self.refs[index - 1]
        if kind == SYMSXP:
            flags_char = self.int()
            symbol = self.charsxp(flags_char)
            self.refs.append(symbol)
            return symbol
        if kind == CHARSXP:
            return self.charsxp(flags)
        if kind == STRSXP:
            n = self.length()
            out = []
            for _ in range(n):
                out.append(self.charsxp(self.int()))
            self.attributes(flags)
            return out
        if kind in (INTSXP, LGLSXP):
            n = self.length()
            raw = self.bytes(4 * n)
            self.attributes(flags)
            return list(struct.unpack(f">{n}i", raw))
        if kind == REALSXP:
            n = self.length()
            raw = self.bytes(8 * n)
            self.attributes(flags)
            return list(struct.unpack(f">{n}d", raw))
        if kind == VECSXP:
            n = self.length()
            values = [self.item() for _ in range(n)]
            attrs = self.attributes(flags)
            names = attrs.get("names") if isinstance(attrs, dict) else None
            if names and len(names) == n:
                return dict(zip(names, values))
            return values
        if kind == LISTSXP:
            out = {}
            while True:
                self.attributes(flags)
                tag = self.item() if flags & _HAS_TAG else None
                out[tag if tag is not None else len(out)] = self.item()
                flags = self.int()
                if flags & 0xFF == NILVALUE_SXP:
                    return out
                if flags & 0xFF != LISTSXP:
                    self.pos -= 4
                    out[len(out)] = self.item()
                    return out
        self.fail(f"unsupported R object type {kind}")


def unserialize(data, name="<bytes>"):
    """Decodes one XDR-serialized R object (character vectors, lists, ...).

    Args:
        data: the serialized bytes, starting with `b"X\\n"`.
        name: the file name used in error messages.

    Returns:
        A `list[str]` for a character vector (None for NA), a `list` of
        numbers for integer/double vectors, a `dict` for named lists and
        pairlists.
    """
    reader = _Reader(bytes(data), name)
    reader.header()
    return reader.item()


def serialize_strings(strings):
    """Serializes a list of str as an R character vector (XDR, version 3).

    The inverse of `unserialize` for character vectors; used to write test
    fixtures in the exact format R writes.
    """
    out = [b"X\n", struct.pack(">iii", 3, 0x040201, 0x030500)]
    out.append(struct.pack(">i", 5) + b"UTF-8")
    out.append(struct.pack(">ii", STRSXP, len(strings)))
    for s in strings:
        if s is None:
            out.append(struct.pack(">ii", CHARSXP, -1))
            continue
        raw = s.encode("utf-8")
        out.append(struct.pack(">ii", CHARSXP | (8 << 12), len(raw)) + raw)
    return b"".join(out)


def write_rdb_record(payload):
    """One `.rdb` record: 4-byte big-endian length + zlib stream."""
    return struct.pack(">I", len(payload)) + zlib.compress(payload)


def read_rdb(path, index_path=None):
    """Reads every record of an R `.rdb` lazy-load database.

    Records are walked in file order; each is a 4-byte big-endian payload
    length and one zlib stream holding an XDR-serialized object.

    Args:
        path: the `.rdb` file.
        index_path: optional `.rdx` index; when given (or when a `.rdx`
            sits beside `path`), the objects are returned by name.

    Returns:
        A dict name -> object (names `"0"`, `"1"`, ... without an index).

    Raises:
        CorruptDataError: a truncated record, a broken zlib stream or an
            unreadable payload; the message names the file.
    """
    path = str(path)
    with open(path, "rb") as f:
        data = f.read()
    objects = {}
    offsets = {}
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise CorruptDataError(path, f"truncated record header at {pos}")
        (length,) = struct.unpack_from(">I", data, pos)
        decomp = zlib.decompressobj()
        try:
            payload = decomp.decompress(data[pos + 4 :])
        except zlib.error as e:
            raise CorruptDataError(path, f"bad zlib stream at {pos}: {e}")
        if not decomp.eof or len(payload) != length:
            raise CorruptDataError(
                path,
                f"record at byte {pos} is truncated: expected {length} "
                f"bytes, got {len(payload)}",
            )
        offsets[pos] = len(objects)
        objects[str(len(objects))] = unserialize(payload, path)
        pos = len(data) - len(decomp.unused_data)
    if index_path is None and path.endswith(".rdb"):
        candidate = path[:-4] + ".rdx"
        try:
            open(candidate, "rb").close()
            index_path = candidate
        except OSError:
            index_path = None
    if index_path is None:
        return objects
    try:
        with open(index_path, "rb") as f:
            index = unserialize(gzip.decompress(f.read()), str(index_path))
    except (OSError, EOFError, zlib.error) as e:
        raise CorruptDataError(str(index_path), f"unreadable index: {e}")
    variables = index.get("variables", {}) if isinstance(index, dict) else {}
    named = {}
    for name, (offset, _) in variables.items():
        if offset not in offsets:
            raise CorruptDataError(
                str(index_path), f"{name!r} points to no record ({offset})"
            )
        named[name] = objects[str(offsets[offset])]
    return named
