"""Sentence pairs for translation (`load_pairs`) and what it returns.

Datasets (`load_pairs(name)`):

* `kjv_rv1909` (default): English (King James) -> Spanish (Reina-Valera
  1909) verses, aligned slot by slot (both modules use the KJV
  versification), 31K pairs. Debian `sword-text-kjv` + `sword-text-sparv`.
  Split by book, with books that share text kept on one side (the
  synoptic gospels, Samuel/Kings/Chronicles, the law and the prophets
  quoted in the New Testament all stay in train): valid = Joshua, Judges,
  Ruth, Esther, Daniel, Galatians, Philippians, 1-2 Thessalonians,
  Revelation; test = Job, Proverbs, Ecclesiastes, Song of Songs,
  Lamentations, 1-2 Corinthians; train = the rest. About 80/9/10.
* `dates`: dates written in two locales with babel's CLDR data, e.g.
  "Friday, November 21, 2025" -> "Freitag, 21. November 2025"
  (formats full/long/medium). Every date occurs once, so no date is in
  two splits. For fast tests.
"""

import dataclasses
import datetime
import json
import pathlib
import re

import numpy as np

from kdl.datasets import sources
from kdl.datasets import sword

PAIR_DATASETS = ("kjv_rv1909", "dates")
SWORD_ROOT = "/usr/share/sword/modules/texts/ztext"
KJV = ("sword-text-kjv", "engKJV2006eb")
RV1909 = ("sword-text-sparv", "spaRV1909eb")
VALID_BOOKS = (
    "Josh",
    "Judg",
    "Ruth",
    "Esth",
    "Dan",
    "Gal",
    "Phil",
    "1Thess",
    "2Thess",
    "Rev",
)
TEST_BOOKS = ("Job", "Prov", "Eccl", "Song", "Lam", "1Cor", "2Cor")


@dataclasses.dataclass
class PairData:
    """What `load_pairs` returns: lists of (source, target) strings."""

    train: list
    valid: list
    test: list
    name: str
    source: str

    def __repr__(self):
        return (
            f"PairData(name={self.name!r}, train={len(self.train)}, "
            f"valid={len(self.valid)}, test={len(self.test)})"
        )


# ----------------------------------------------------------------------------
# kjv_rv1909.


def read_aligned_verses(source_folder, target_folder):
    """Verse pairs of two zText modules with the same versification.

    Returns:
        A list of (book, chapter, verse, source_text, target_text) for the
        slots that are verses in the source module and non-empty in both.
    """
    src = sword.read_module(source_folder)
    tgt = sword.read_module(target_folder)
    if len(src) != len(tgt):
        raise sources.CorruptDataError(
            target_folder,
            f"{len(tgt)} index slots vs {len(src)} in {source_folder}: "
            "the modules do not share a versification",
        )
    out = []
    for (book, chapter, verse, a), (_, _, _, b) in zip(src, tgt):
        if not verse:
            continue
        a, b = sword.strip_osis(a), sword.strip_osis(b)
        if a and b:
            out.append((book, chapter, verse, a, b))
    return out


def split_by_book(rows, valid_books=VALID_BOOKS, test_books=TEST_BOOKS):
    """(book, ..., source, target) rows -> train/valid/test pair lists."""
    out = {"train": [], "valid": [], "test": []}
    for row in rows:
        book = row[0]
        split = (
            "valid"
            if book in valid_books
            else "test"
            if book in test_books
            else "train"
        )
        out[split].append((row[-2], row[-1]))
    return out


def _kjv_rv1909(path, data_dir, download):
    def check(root):
        root = pathlib.Path(root)
        a, b = root / KJV[1], root / RV1909[1]
        if not (a / "ot.bzv").exists():  # The modules themselves were given.
            raise sources.SourceUnavailable(
                f"{a} not found (pass the folder holding {KJV[1]}/ and "
                f"{RV1909[1]}/)"
            )
        return split_by_book(read_aligned_verses(a, b)), str(root)

    if path is not None:
        return sources.resolve(
            "kjv_rv1909", [sources.path_candidate(path, check)]
        )
    cands = []
    per_package = [
        sources.debian_candidates(
            pkg,
            SWORD_ROOT,
            [f"{mod}/ot.bzv", f"{mod}/nt.bzv"],
            data_dir,
            download,
        )
        for pkg, mod in (KJV, RV1909)
    ]
    # Installed, cached, fetched: pair the same kind of source.
    for kjv_c, rv_c in zip(*per_package):

        def load(kjv_c=kjv_c, rv_c=rv_c):
            a = pathlib.Path(kjv_c.load()) / KJV[1]
            b = pathlib.Path(rv_c.load()) / RV1909[1]
            return split_by_book(read_aligned_verses(a, b)), f"{a} + {b}"

        cands.append(
            sources.Candidate(
                kjv_c.source.replace(KJV[0], f"{KJV[0]} + {RV1909[0]}"),
                load,
                kjv_c.hint.replace(KJV[0], f"{KJV[0]} {RV1909[0]}"),
            )
        )
    return sources.resolve("kjv_rv1909", cands)


# ----------------------------------------------------------------------------
# dates.


def make_dates(
    num_examples=10000,
    source_locale="en_US",
    target_locale="de_DE",
    formats=("full", "long", "medium"),
    seed=0,
    first_year=1800,
    last_year=2200,
):
    """Distinct random dates written in two locales (babel / CLDR).

    Returns:
        A list of (source, target) strings, in random order; each date
        occurs once, in one randomly chosen format on both sides.
    """
    try:
        from babel.dates import format_date
    except ImportError as e:  # pragma: no cover
        raise sources.SourceUnavailable(f"babel missing: {e}")
    first = datetime.date(first_year, 1, 1).toordinal()
    last = datetime.date(last_year, 12, 31).toordinal()
    if num_examples > last - first + 1:
        raise ValueError(
            f"`num_examples` exceeds the {last - first + 1} distinct dates. "
            f"Received: num_examples={num_examples}"
        )
    rng = np.random.default_rng(seed)
    days = rng.choice(last - first + 1, size=num_examples, replace=False)
    kinds = rng.integers(0, len(formats), size=num_examples)
    out = []
    for day, kind in zip(days.tolist(), kinds.tolist()):
        d = datetime.date.fromordinal(first + day)
        fmt = formats[kind]
        out.append(
            (
                format_date(d, fmt, locale=source_locale),
                format_date(d, fmt, locale=target_locale),
            )
        )
    return out


# ----------------------------------------------------------------------------
# load_pairs.


def load_pairs(
    name="kjv_rv1909",
    data_dir=None,
    path=None,
    download=True,
    reverse=False,
    **kwargs,
):
    """Loads a named parallel corpus as (source, target) string pairs.

    Sources of `kjv_rv1909`, in order: `path` (a folder holding the
    `engKJV2006eb/` and `spaRV1909eb/` module folders); the installed
    Debian packages `sword-text-kjv` + `sword-text-sparv`; their copies in
    the cache; `apt-get download` of both into the cache. The parsed pairs
    are cached as JSON. `dates` is generated with babel.

    Args:
        name: "kjv_rv1909" (English -> Spanish verses) or "dates".
        data_dir: the kdl cache (default `$KDL_DATA_DIR` or ~/.cache/kdl).
        path: explicit folder (kjv_rv1909).
        download: allow the on-demand package fetch.
        reverse: swap source and target (e.g. Spanish -> English).
        **kwargs: for "dates", the arguments of `make_dates`
            (num_examples, source_locale, target_locale, formats, seed).

    Returns:
        A `PairData` with `train`, `valid`, `test` lists of (source, target)
        strings, split by book (kjv_rv1909) or by date (dates): no unit
        is in two splits.

    Raises:
        DatasetNotFoundError: no source worked (lists every source tried).
        CorruptDataError: a data file is truncated or malformed.
    """
    if name not in PAIR_DATASETS:
        raise ValueError(
            f"Unknown pair dataset. Expected one of {PAIR_DATASETS}. "
            f"Received: name={name!r}"
        )
    if name == "dates":
        pairs = make_dates(**kwargs)
        n = len(pairs)
        a, b = int(n * 0.8), int(n * 0.9)
        splits = {"train": pairs[:a], "valid": pairs[a:b], "test": pairs[b:]}
        where = "babel " + json.dumps(kwargs, sort_keys=True)
    else:
        if kwargs:
            raise ValueError(f"Unexpected arguments for {name}: {kwargs}")
        splits, where = _cached_kjv(path, data_dir, download)
    if reverse:
        splits = {k: [(t, s) for s, t in v] for k, v in splits.items()}
    return PairData(
        train=splits["train"],
        valid=splits["valid"],
        test=splits["test"],
        name=name,
        source=where,
    )


def _cached_kjv(path, data_dir, download):
    cache = sources.cache_dir(data_dir) / "pairs"
    key = "default" if path is None else re.sub(r"\W", "_", str(path))
    folder = cache / f"kjv_rv1909-v1-{key}"

    def read():
        with open(folder / "pairs.json", encoding="utf-8") as f:
            cached = json.load(f)
        return {
            k: [tuple(p) for p in v] for k, v in cached["splits"].items()
        }, (cached["source"])

    def build():
        splits, where = _kjv_rv1909(path, data_dir, download).value
        folder.mkdir(parents=True, exist_ok=True)
        sources.save_json(
            folder / "pairs.json", {"splits": splits, "source": where}
        )
        return splits, where

    # Read only when its SHA-256 checksum verifies, else rebuilt.
    return sources.checked_cache(folder, ["pairs.json"], read, build)
