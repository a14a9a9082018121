"""The source and target `TextVectorization` layers of a translation corpus.

`TranslationVectorizers` holds the two `keras.layers.TextVectorization`
layers, standardised by `standardize_text`, and decodes ids back to strings.
"""

import json
import re

import keras
import numpy as np
import tensorflow as tf

from kdl.datasets.translation import teacher_forcing

PAD = ""
UNK = "[UNK]"
START = "[start]"
END = "[end]"
_PUNCT = '([.,;:!?()\\[\\]{}"\u00bf\u00a1\u201c\u201d\u00ab\u00bb\u2014])'


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
