"""Sentence pairs for translation and their seq2seq tf.data pipeline.

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

`translation_dataset` turns pairs into `((source_ids, target_in_ids),
target_out_ids)` batches for teacher forcing; `TranslationVectorizers`
holds the two `keras.layers.TextVectorization` layers and decodes ids back
to strings.
"""

import dataclasses
import datetime
import json
import pathlib
import re

import keras
import numpy as np
import tensorflow as tf

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

PAD = ""
UNK = "[UNK]"
START = "[start]"
END = "[end]"
_PUNCT = '([.,;:!?()\\[\\]{}"\u00bf\u00a1\u201c\u201d\u00ab\u00bb\u2014])'


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
    file = cache / f"kjv_rv1909-v1-{key}.json"
    try:
        with open(file, encoding="utf-8") as f:
            cached = json.load(f)
        return {
            k: [tuple(p) for p in v] for k, v in cached["splits"].items()
        }, (cached["source"])
    except (OSError, ValueError, KeyError):
        pass
    found = _kjv_rv1909(path, data_dir, download)
    splits, where = found.value
    cache.mkdir(parents=True, exist_ok=True)
    sources.save_json(file, {"splits": splits, "source": where})
    return splits, where


# ----------------------------------------------------------------------------
# Vectorization.


@keras.saving.register_keras_serializable(package="kdl")
def standardize_text(text):
    """Lower case (Unicode) and punctuation split off as separate tokens.

    A TF function: works eagerly, inside `Dataset.map` and as the
    `standardize` of `keras.layers.TextVectorization`.
    """
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _PUNCT, r" \1 ")
    return tf.strings.strip(tf.strings.regex_replace(text, r"\s+", " "))


def _vectorizer(vocabulary, max_tokens=None):
    return keras.layers.TextVectorization(
        max_tokens=max_tokens,
        standardize=standardize_text,
        split="whitespace",
        output_mode="int",
        vocabulary=list(vocabulary),
        ragged=True,
    )


def _adapt_vocabulary(texts, size, reserved):
    layer = keras.layers.TextVectorization(
        max_tokens=size - len(reserved) + 2,
        standardize=standardize_text,
        ragged=True,
    )
    layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
    words = [w for w in layer.get_vocabulary()[2:] if w not in reserved]
    return [PAD, UNK] + list(reserved) + words[: size - 2 - len(reserved)]


_DETOK_BEFORE = re.compile(r" ([.,;:!?)\u00bb\u201d])")
_DETOK_AFTER = re.compile(r"([(\u00bf\u00a1\u00ab\u201c]) ")


class TranslationVectorizers:
    """The source and target `TextVectorization` layers of a corpus.

    Id 0 is padding (`""`), 1 is `[UNK]`; the target vocabulary also
    reserves `[start]` (id 2) and `[end]` (id 3). Text is standardised by
    `standardize_text` (lower case, punctuation as tokens).

    Args:
        source_vocabulary: the source token list (`""`, `[UNK]` first).
        target_vocabulary: the target token list (`""`, `[UNK]`,
            `[start]`, `[end]` first).

    Attributes:
        source, target: the `keras.layers.TextVectorization` layers
            (ragged int64 output; usable inside `Dataset.map` or a model).
        pad_id, unk_id, start_id, end_id: 0, 1, 2, 3.

    Example:
        >>> vec = TranslationVectorizers.adapt(data.train, 8000, 8000)
        >>> ds = translation_dataset(data.train, vec, batch_size=64)
        >>> vec.decode_target([[2, 57, 9, 3, 0]])
        ['y dios']
    """

    pad_id = 0
    unk_id = 1
    start_id = 2
    end_id = 3

    def __init__(self, source_vocabulary, target_vocabulary):
        source_vocabulary = list(source_vocabulary)
        target_vocabulary = list(target_vocabulary)
        if source_vocabulary[:2] != [PAD, UNK]:
            raise ValueError(
                "The source vocabulary must start with ['', '[UNK]']. "
                f"Received: {source_vocabulary[:2]}"
            )
        if target_vocabulary[:4] != [PAD, UNK, START, END]:
            raise ValueError(
                "The target vocabulary must start with ['', '[UNK]', "
                f"'[start]', '[end]']. Received: {target_vocabulary[:4]}"
            )
        self.source_vocabulary = source_vocabulary
        self.target_vocabulary = target_vocabulary
        self.source = _vectorizer(source_vocabulary)
        self.target = _vectorizer(target_vocabulary)

    @classmethod
    def adapt(cls, pairs, source_vocab_size=8000, target_vocab_size=8000):
        """Builds both vocabularies from (training) pairs: the most
        frequent tokens, sizes including the reserved tokens."""
        if int(source_vocab_size) < 3 or int(target_vocab_size) < 5:
            raise ValueError(
                "Vocabulary sizes are too small. Received: "
                f"source_vocab_size={source_vocab_size}, "
                f"target_vocab_size={target_vocab_size}"
            )
        pairs = list(pairs)
        src = _adapt_vocabulary([s for s, _ in pairs], source_vocab_size, [])
        tgt = _adapt_vocabulary(
            [t for _, t in pairs], target_vocab_size, [START, END]
        )
        return cls(src, tgt)

    @property
    def source_vocab_size(self):
        return len(self.source_vocabulary)

    @property
    def target_vocab_size(self):
        return len(self.target_vocabulary)

    def encode_source(self, texts):
        """Strings -> int32 source ids, padded with 0: `(batch, length)`."""
        return tf.cast(self.source(texts), tf.int32).to_tensor()

    def encode_pair(self, source, target):
        """One (source, target) string pair -> teacher-forcing ids.

        Usable eagerly or inside `Dataset.map` (scalar string tensors).

        Returns:
            `((source_ids, target_in_ids), target_out_ids)`, int32 1-D:
            target_in = [start] + target, target_out = target + [end].
        """
        src = tf.cast(self.source(source), tf.int32)
        tgt = tf.cast(self.target(target), tf.int32)
        return teacher_forcing(src, tgt, self.start_id, self.end_id)

    def _decode(self, ids, vocabulary):
        ids = np.asarray(ids)
        if ids.ndim == 1:
            ids = ids[None]
        out = []
        for row in ids.tolist():
            words = []
            for i in row:
                if i == self.end_id and vocabulary is self.target_vocabulary:
                    break
                if i == self.pad_id or (
                    vocabulary is self.target_vocabulary and i == self.start_id
                ):
                    continue
                words.append(vocabulary[i])
            text = " ".join(words)
            text = _DETOK_AFTER.sub(r"\1", _DETOK_BEFORE.sub(r"\1", text))
            out.append(text)
        return out

    def decode_target(self, ids):
        """Target ids (1-D or 2-D) -> strings; stops at `[end]`, drops
        padding and `[start]`, re-attaches punctuation."""
        return self._decode(ids, self.target_vocabulary)

    def decode_source(self, ids):
        """Source ids (1-D or 2-D) -> strings (padding dropped)."""
        return self._decode(ids, self.source_vocabulary)

    def save(self, path):
        """Writes both vocabularies as JSON."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "source_vocabulary": self.source_vocabulary,
                    "target_vocabulary": self.target_vocabulary,
                },
                f,
                ensure_ascii=False,
            )

    @classmethod
    def load(cls, path):
        """Reads vectorizers written by `save`."""
        with open(path, encoding="utf-8") as f:
            return cls(**json.load(f))


def teacher_forcing(source_ids, target_ids, start_id=2, end_id=3):
    """Source/target id sequences -> `((source, target_in), target_out)`.

    target_in = [start_id] + target, target_out = target + [end_id]: the
    decoder reads target_in and is trained to predict target_out. Works on
    1-D tensors, eagerly or inside `Dataset.map`.
    """
    target_ids = tf.convert_to_tensor(target_ids)
    start = tf.fill([1], tf.cast(start_id, target_ids.dtype))
    end = tf.fill([1], tf.cast(end_id, target_ids.dtype))
    target_in = tf.concat([start, target_ids], axis=0)
    target_out = tf.concat([target_ids, end], axis=0)
    return (source_ids, target_in), target_out


def translation_dataset(
    pairs,
    vectorizers,
    batch_size=64,
    max_length=50,
    shuffle=True,
    seed=0,
    bucket_boundaries=None,
    drop_remainder=False,
    with_weights=False,
):
    """Teacher-forcing batches of a translation corpus, bucketed by length.

    All pairs are vectorized once (eagerly, in memory); pairs whose source
    or target has more than `max_length` tokens are dropped; then shuffle
    (reshuffled every epoch), bucketing by length
    (`Dataset.bucket_by_sequence_length`: batches of similar lengths,
    padded with 0 to the longest in the batch) and prefetch.

    Element structure (what `kdl.models.Seq2SeqAttention` consumes):

        ((source_ids, target_in_ids), target_out_ids)

    * source_ids: int32 `(batch, S)`, 0 = padding;
    * target_in_ids: int32 `(batch, T)` = `[start] + target`, 0-padded;
    * target_out_ids: int32 `(batch, T)` = `target + [end]`, 0-padded;
    * with `with_weights=True` a third entry, float32 `(batch, T)`
      sample weights = 1 where target_out_ids != 0 (the padding mask).

    `vectorizers.start_id` / `end_id` (2 / 3) begin and end decoding;
    `vectorizers.decode_target(ids)` turns ids back into strings.

    Args:
        pairs: a list of (source, target) strings.
        vectorizers: a `TranslationVectorizers` (build it on the training
            pairs with `TranslationVectorizers.adapt` and reuse it for
            valid/test).
        batch_size: pairs per batch.
        max_length: the longest source/target kept, in tokens (before
            [start]/[end]).
        shuffle: shuffle every epoch (deterministic given `seed`).
        seed: the shuffle seed.
        bucket_boundaries: length boundaries of the buckets (default:
            multiples of 8 up to `max_length`); [] disables bucketing.
        drop_remainder: drop partial batches.
        with_weights: add the padding mask as sample weights.

    Returns:
        A `tf.data.Dataset` of the elements described above.
    """
    if int(batch_size) < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    if int(max_length) < 1:
        raise ValueError(
            f"`max_length` must be >= 1. Received: max_length={max_length}"
        )
    pairs = list(pairs)
    if not pairs:
        raise ValueError("`pairs` is empty.")
    src = tf.cast(vectorizers.source([s for s, _ in pairs]), tf.int32)
    tgt = tf.cast(vectorizers.target([t for _, t in pairs]), tf.int32)
    keep = np.flatnonzero(
        (src.row_lengths().numpy() <= max_length)
        & (tgt.row_lengths().numpy() <= max_length)
        & (src.row_lengths().numpy() > 0)
    )
    if not len(keep):
        raise ValueError(
            f"No pair is at most max_length={max_length} tokens long."
        )
    src = tf.gather(src, keep)
    tgt = tf.gather(tgt, keep)
    ds = tf.data.Dataset.from_tensor_slices((src, tgt))
    if shuffle:
        ds = ds.shuffle(len(keep), seed=seed, reshuffle_each_iteration=True)
    start_id, end_id = vectorizers.start_id, vectorizers.end_id
    ds = ds.map(
        lambda s, t: teacher_forcing(s, t, start_id, end_id),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if bucket_boundaries is None:
        bucket_boundaries = list(range(8, int(max_length) + 2, 8))
    bucket_boundaries = [int(b) for b in bucket_boundaries]
    if bucket_boundaries:
        ds = ds.bucket_by_sequence_length(
            lambda x, y: tf.maximum(tf.shape(x[0])[0], tf.shape(y)[0]),
            bucket_boundaries=bucket_boundaries,
            bucket_batch_sizes=[int(batch_size)] * (len(bucket_boundaries) + 1),
            drop_remainder=drop_remainder,
        )
    else:
        ds = ds.padded_batch(int(batch_size), drop_remainder=drop_remainder)
    if with_weights:
        ds = ds.map(
            lambda x, y: (x, y, tf.cast(tf.not_equal(y, 0), tf.float32)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)
