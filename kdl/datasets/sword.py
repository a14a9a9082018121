"""A reader for SWORD "zText" Bible modules (the `sword-text-*` packages).

A zText module folder holds, per testament (`ot`, `nt`):

* `.bzv`: one 10-byte record `<IIH` (block, offset, size) per index slot;
* `.bzs`: one 12-byte record `<III` (offset, compressed size, size) per block;
* `.bzz`: the zlib-compressed blocks.

Slots follow the module's versification: slot 0 and 1 are module/testament
headings, then per book one heading slot (`<div type="book" osisID=...>`),
and per chapter one heading slot (`<chapter sID=...>`) followed by its
verses. Texts are OSIS markup; `strip_osis` turns them into plain text.
"""

import html
import os
import re
import struct
import zlib

from kdl.datasets.sources import CorruptDataError

_NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_BOOK = re.compile(r'<div\b[^>]*type="book"[^>]*>')
_OSIS_ID = re.compile(r'osisID="([^"]+)"')
_CHAPTER_START = re.compile(r"<chapter\b[^>]*\ssID=")
_START_ID = re.compile(r"\ssID=")


def strip_osis(text):
    """OSIS markup -> plain text: notes become a space, tags are dropped."""
    text = _NOTE.sub(" ", text)
    text = _TAG.sub("", text)
    text = html.unescape(text).replace("\u00b6", " ")  # Pilcrow.
    return _SPACE.sub(" ", text).strip()


def read_testament(folder, testament):
    """Raw OSIS text of every index slot of one testament ("ot" or "nt").

    Raises:
        CorruptDataError: a truncated index or a broken zlib block (the
            message names the file).
    """
    base = os.path.join(str(folder), testament)
    with open(base + ".bzv", "rb") as f:
        bzv = f.read()
    with open(base + ".bzs", "rb") as f:
        bzs = f.read()
    with open(base + ".bzz", "rb") as f:
        bzz = f.read()
    if len(bzv) % 10:
        raise CorruptDataError(base + ".bzv", "size is not a multiple of 10")
    if len(bzs) % 12:
        raise CorruptDataError(base + ".bzs", "size is not a multiple of 12")
    blocks = [
        struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs), 12)
    ]
    cache = {}
    out = []
    for i in range(0, len(bzv), 10):
        block, offset, size = struct.unpack_from("<IIH", bzv, i)
        if size == 0:
            out.append("")
            continue
        if block not in cache:
            if block >= len(blocks):
                raise CorruptDataError(
                    base + ".bzv", f"slot {i // 10} points to block {block}"
                )
            start, csize, usize = blocks[block]
            if start + csize > len(bzz):
                raise CorruptDataError(
                    base + ".bzz", f"block {block} is truncated"
                )
            try:
                data = zlib.decompress(bzz[start : start + csize])
            except zlib.error as e:
                raise CorruptDataError(base + ".bzz", f"block {block}: {e}")
            if len(data) != usize:
                raise CorruptDataError(
                    base + ".bzz",
                    f"block {block} has {len(data)} bytes, expected {usize}",
                )
            cache[block] = data
        data = cache[block]
        if offset + size > len(data):
            raise CorruptDataError(
                base + ".bzv", f"slot {i // 10} overruns block {block}"
            )
        out.append(data[offset : offset + size].decode("utf-8", "replace"))
    return out


def read_module(folder):
    """All slots of a module: a list of (book, chapter, verse, osis_text).

    Heading slots get verse 0 (chapter 0 for book headings); `book` is the
    OSIS book id (e.g. "Gen") taken from the book heading. Slots are in
    index order over ot then nt, so two modules with the same
    versification align slot by slot.
    """
    rows = []
    for testament in ("ot", "nt"):
        if not os.path.exists(os.path.join(str(folder), testament + ".bzv")):
            continue
        book, chapter, verse = "", 0, 0
        for raw in read_testament(folder, testament):
            match = _BOOK.search(raw)
            if match and _START_ID.search(match.group(0)):
                ids = _OSIS_ID.search(match.group(0))
                book = ids.group(1) if ids else book
                chapter, verse = 0, 0
                rows.append((book, 0, 0, raw))
            elif _CHAPTER_START.search(raw) and not strip_osis(raw):
                chapter, verse = chapter + 1, 0
                rows.append((book, chapter, 0, raw))
            elif chapter == 0:
                rows.append((book, 0, 0, raw))  # Module/testament heading.
            else:
                verse += 1
                rows.append((book, chapter, verse, raw))
    if not rows:
        raise CorruptDataError(str(folder), "no ot/nt .bzv index found")
    return rows


def read_verses(folder):
    """Plain-text verses: a list of (book, chapter, verse, text), non-empty."""
    out = []
    for book, chapter, verse, raw in read_module(folder):
        if verse:
            text = strip_osis(raw)
            if text:
                out.append((book, chapter, verse, text))
    return out


def write_module(folder, testaments, block_size=3):
    """Writes a zText module (test fixtures): {"ot": [osis, ...], ...}."""
    os.makedirs(folder, exist_ok=True)
    for testament, slots in testaments.items():
        bzv, bzs, bzz = [], [], []
        for start in range(0, len(slots), block_size):
            chunk = [
                s.encode("utf-8") for s in slots[start : start + block_size]
            ]
            data = b"".join(chunk)
            comp = zlib.compress(data)
            block = len(bzs)
            bzs.append(
                struct.pack("<III", sum(map(len, bzz)), len(comp), len(data))
            )
            bzz.append(comp)
            offset = 0
            for c in chunk:
                bzv.append(struct.pack("<IIH", block, offset, len(c)))
                offset += len(c)
        base = os.path.join(folder, testament)
        for ext, parts in ((".bzv", bzv), (".bzs", bzs), (".bzz", bzz)):
            with open(base + ext, "wb") as f:
                f.write(b"".join(parts))
