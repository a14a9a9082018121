"""A token vocabulary and the tokenizers of the text corpora.

Word level follows PTB: lower case, words without punctuation, numbers
become `N`, `<eos>` ends every sentence (and paragraph). Char level keeps
the text as it is; `<unk>` is reserved.
"""

import json
import re

import numpy as np

UNK = "<unk>"
EOS = "<eos>"

_WORD_OR_STOP = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)*|[.!?]+")
_DIGIT = re.compile(r"[0-9]")


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
