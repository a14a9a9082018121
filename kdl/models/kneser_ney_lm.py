"""Interpolated (modified) Kneser-Ney n-gram language model over token ids."""

import json

import numpy as np

from kdl import _validation

DISCOUNT_KINDS = ("modified", "single")
# KenLM's `--discount_fallback` values, used where the count-of-counts of an
# order cannot give valid discounts (tiny corpora).
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


def _as_ids(name, ids):
    array = np.asarray(ids)
    if array.ndim != 1 or not (
        array.size == 0 or np.issubdtype(array.dtype, np.integer)
    ):
        raise ValueError(
            f"`{name}` must be a 1-D sequence of integer token ids. "
            f"Received: {name} with shape {array.shape} and dtype "
            f"{array.dtype}"
        )
    return array.astype(np.int64)


def estimate_discounts(counts, modified=True):
    """Kneser-Ney discounts from the count-of-counts of one order.

    With `n_r` the number of n-grams whose (raw or continuation) count is
    r and `Y = n_1 / (n_1 + 2 n_2)` (Ney, Essen & Kneser 1994):

    - single: `D = Y`, for every count;
    - modified (Chen & Goodman 1998, eq. 26): `D_1 = 1 - 2 Y n_2 / n_1`,
      `D_2 = 2 - 3 Y n_3 / n_2`, `D_3+ = 3 - 4 Y n_4 / n_3`.

    When a needed `n_r` is zero or a discount falls outside `(0, r]`, the
    fallback `(0.5, 1.0, 1.5)` of KenLM's `--discount_fallback` is used
    (`0.5` for single).

    Args:
        counts: int array of the counts of the distinct n-grams (> 0).
        modified: three discounts (D_1, D_2, D_3+) instead of one.

    Returns:
        A tuple `(D_1, D_2, D_3+)` of floats (all equal for single).
    """
    counts = np.asarray(counts)
    n = [int(np.sum(counts == r)) for r in range(1, 5)]
    if n[0] == 0 or n[1] == 0:
        return FALLBACK_DISCOUNTS if modified else (0.5,) * 3
    y = n[0] / (n[0] + 2.0 * n[1])
    if not modified:
        return (y,) * 3
    if n[2] == 0:
        return FALLBACK_DISCOUNTS
    d = (
        1.0 - 2.0 * y * n[1] / n[0],
        2.0 - 3.0 * y * n[2] / n[1],
        3.0 - 4.0 * y * n[3] / n[2],
    )
    if not all(0.0 < d_r <= r for r, d_r in zip((1, 2, 3), d)):
        return FALLBACK_DISCOUNTS
    return d


class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram language model of token-id streams.

    The probability of token `w` after the history `h` (the last `order-1`
    tokens) interpolates every order down to the uniform distribution
    (Chen & Goodman 1998, eq. 25 with modified discounts):

        p_k(w | h) = max(c_k(h w) - D_k(c_k(h w)), 0) / sum_v c_k(h v)
                     + gamma_k(h) p_{k-1}(w | h'),
        gamma_k(h) = (D_k1 N_1(h .) + D_k2 N_2(h .) + D_k3+ N_3+(h .))
                     / sum_v c_k(h v),
        p_0(w) = 1 / vocab_size,

    where `h'` drops the oldest token of `h`, `N_r(h .)` counts the tokens
    `v` with `c_k(h v) = r` (`N_3+`: >= 3), and `D_k(c)` is `D_k1`, `D_k2`
    or `D_k3+` for `c = 1, 2, >= 3` (0 for `c = 0`). `c_k` is the raw count
    at the highest order and the continuation count `N_1+(. g)` (the number
    of distinct tokens seen just before the k-gram `g`) below it. When
    `sum_v c_k(h v) = 0` (a history never followed by anything),
    `p_k(w | h) = p_{k-1}(w | h')`. Every distribution sums to 1 over the
    vocabulary and gives every id a probability > 0.

    The model reads one stream (for Penn Treebank: the `<eos>` ids are
    ordinary tokens of it, and histories cross sentence ends). kdl's
    choices where the papers are sentence-based: the training stream is
    treated as if preceded by a start symbol that is never predicted (the
    first k-gram of the stream gets one extra left extension, as KenLM's
    `<s>` gives it); when scoring, the first tokens of a stream use the
    shorter history they have. Ids outside `[0, vocab_size)` are read as
    `unk_id` (kdl's `Vocabulary` maps unknown words to id 0 already).

    Counting is NumPy only (`np.unique` over integer-coded n-grams, one
    pass per order), so fitting and scoring are vectorised: a 600K-token
    stream with a 10K vocabulary fits and scores in seconds.

    Args:
        vocab_size: the number of token ids (positive int).
        order: the n of the n-grams (positive int, default 5).
        discount: `"modified"` (default: `D_1, D_2, D_3+` estimated per
            order from its count-of-counts, see `estimate_discounts`),
            `"single"` (one estimated `D` per order: interpolated KN of
            Kneser & Ney 1995), a float in `(0, 1]` (that `D` for every
            order), or a tuple `(D_1, D_2, D_3+)` with `0 < D_r <= r`
            (those for every order).
        unk_id: the id that unknown ids are mapped to (default 0).

    Attributes (None before `fit`):
        discounts: list, per order 1..n, of the `(D_1, D_2, D_3+)` used.
        num_ngrams: list, per order 1..n, of the distinct n-grams seen.
        tables: the count tables (None before `fit`): `tables[k]`, for
            order k, is a dict of NumPy arrays over the distinct k-grams
            (sorted integer `keys` = history index * vocab_size + token,
            `context`, `suffix`, raw `counts`, `adjusted` counts) and over
            the histories (`total`, backoff weight `gamma`).

    Example:

    >>> lm = KneserNeyLM(vocab_size=10000, order=5)
    >>> lm.fit(train_ids)
    >>> lm.perplexity(test_ids)
    >>> lm.log_prob(context=[12, 7], token=3)
    >>> lm.probs([12, 7])  # (vocab_size,) next-token distribution

    References:
        Kneser & Ney. Improved backing-off for M-gram language modeling.
        ICASSP 1995. Chen & Goodman. An Empirical Study of Smoothing
        Techniques for Language Modeling. TR-10-98, Harvard, 1998.
    """

    def __init__(self, vocab_size, order=5, discount="modified", unk_id=0):
        self.vocab_size = _validation.positive_integer("vocab_size", vocab_size)
        self.order = _validation.positive_integer("order", order)
        self.discount = self._check_discount(discount)
        self.unk_id = _validation.integer(
            "unk_id", unk_id, min_value=0, max_value=self.vocab_size - 1
        )
        self.tables = None
        self.discounts = None
        self.num_ngrams = None

    @staticmethod
    def _check_discount(discount):
        if isinstance(discount, str):
            return _validation.one_of("discount", discount, DISCOUNT_KINDS)
        if isinstance(discount, (tuple, list)):
            values = _validation.number_tuple(
                "discount", discount, 3, min_value=0
            )
            if not all(0 < d <= r for r, d in zip((1, 2, 3), values)):
                raise ValueError(
                    "`discount` must be 'modified', 'single', a float in "
                    "(0, 1] or a tuple (D_1, D_2, D_3+) with 0 < D_r <= r. "
                    f"Received: discount={discount}"
                )
            return values
        value = _validation.number(
            "discount", discount, 0, 1, min_inclusive=False
        )
        return (value,) * 3

    # ------------------------------------------------------------------
    # Fitting.

    def _clean(self, name, ids):
        ids = _as_ids(name, ids)
        unknown = (ids < 0) | (ids >= self.vocab_size)
        return np.where(unknown, self.unk_id, ids)

    def fit(self, ids):
        """Counts the n-grams of a training stream of token ids.

        Args:
            ids: 1-D int sequence (at least one token).

        Returns:
            `self`.
        """
        ids = self._clean("ids", ids)
        if ids.size == 0:
            raise ValueError("`ids` must hold at least one token. Received: []")
        v = self.vocab_size
        n = self.order
        # Level k (1..n) describes the distinct k-grams: `keys` sorted
        # (context index * V + token), `context` (the index of the (k-1)-gram
        # before the token), `suffix` (the index of the (k-1)-gram that
        # drops the oldest token), raw `counts`. Level 1 is indexed by id.
        levels = [None]
        positions = ids  # index of the k-gram ending at each position, or -1
        levels.append(
            {
                "keys": np.arange(v, dtype=np.int64),
                "context": np.zeros(v, dtype=np.int64),
                "suffix": np.full(v, -1, dtype=np.int64),
                "counts": np.bincount(ids, minlength=v).astype(np.int64),
            }
        )
        for k in range(2, n + 1):
            if ids.size < k:
                levels.append(_empty_level())
                positions = np.full(ids.size, -1, dtype=np.int64)
                continue
            lower = positions
            keys = lower[k - 2 : -1] * v + ids[k - 1 :]
            uniq, inverse = np.unique(keys, return_inverse=True)
            suffix = np.empty(uniq.size, dtype=np.int64)
            suffix[inverse] = lower[k - 1 :]
            levels.append(
                {
                    "keys": uniq,
                    "context": uniq // v,
                    "suffix": suffix,
                    "counts": np.bincount(inverse).astype(np.int64),
                }
            )
            positions = np.full(ids.size, -1, dtype=np.int64)
            positions[k - 1 :] = inverse
        # Adjusted counts: raw at order n, continuation counts below (the
        # distinct (k+1)-grams whose suffix is the k-gram), plus one left
        # extension for the k-gram that opens the stream.
        for k in range(1, n + 1):
            level = levels[k]
            if k == n:
                level["adjusted"] = level["counts"]
                continue
            above = levels[k + 1]
            cont = np.bincount(above["suffix"], minlength=level["keys"].size)
            if ids.size >= k:
                cont[self._first_gram(levels, ids, k)] += 1
            level["adjusted"] = cont.astype(np.int64)
        self.discounts = []
        for k in range(1, n + 1):
            level = levels[k]
            adjusted = level["adjusted"]
            if isinstance(self.discount, tuple):
                d = self.discount
            else:
                d = estimate_discounts(
                    adjusted[adjusted > 0], self.discount == "modified"
                )
            self.discounts.append(tuple(float(x) for x in d))
            num_contexts = 1 if k == 1 else levels[k - 1]["keys"].size
            level.update(_context_stats(level, num_contexts, d))
        self.num_ngrams = [
            int(np.sum(levels[k]["counts"] > 0)) for k in range(1, n + 1)
        ]
        self.tables = levels
        return self

    def _first_gram(self, levels, ids, k):
        """The index of the k-gram that opens the stream."""
        index = ids[:1]
        for j in range(2, k + 1):
            index = _lookup(levels[j], index, ids[j - 1 : j], self.vocab_size)
        return index[0]

    def _check_fitted(self):
        if self.tables is None:
            raise ValueError(
                "This KneserNeyLM is not fitted yet: call `fit(ids)` first."
            )

    # ------------------------------------------------------------------
    # Scoring.

    def _stream_grams(self, ids):
        """Per order k, the index of the k-gram ending at each position."""
        grams = [None, ids]
        for k in range(2, self.order + 1):
            index = np.full(ids.size, -1, dtype=np.int64)
            if ids.size >= k:
                index[1:] = _lookup(
                    self.tables[k], grams[k - 1][:-1], ids[1:], self.vocab_size
                )
            grams.append(index)
        return grams

    def _probs(self, words, contexts):
        """p(words | contexts): `contexts[k]` holds, per query, the index of
        the (k-1)-gram history of order k (-1 when unseen / too short)."""
        levels = self.tables
        level = levels[1]
        uniform = np.full(words.shape, 1.0 / self.vocab_size)
        p = _interpolate(level, np.zeros_like(words), words, uniform)
        for k in range(2, self.order + 1):
            level = levels[k]
            history = contexts[k]
            grams = _lookup(level, history, words, self.vocab_size)
            p = _interpolate(level, history, grams, p)
        return p

    def log_probs(self, ids):
        """Natural-log probability of each token of a stream given the
        tokens before it (the first tokens use the history they have).

        Returns:
            float64 array of `len(ids)` log probabilities.
        """
        self._check_fitted()
        ids = self._clean("ids", ids)
        grams = self._stream_grams(ids)
        contexts = [None, None]
        for k in range(2, self.order + 1):
            history = np.full(ids.size, -1, dtype=np.int64)
            history[1:] = grams[k - 1][:-1]
            contexts.append(history)
        return np.log(self._probs(ids, contexts))

    def perplexity(self, ids):
        """`exp(-mean log p)` over every token of the stream `ids`."""
        log_probs = self.log_probs(ids)
        if log_probs.size == 0:
            raise ValueError("`ids` must hold at least one token. Received: []")
        return float(np.exp(-np.mean(log_probs)))

    def _history(self, context):
        """Per order k, the index of the (k-1)-gram that ends `context`."""
        context = self._clean("context", context)
        context = context[max(context.size - (self.order - 1), 0) :]
        grams = self._stream_grams(context)
        out = [None, None]
        for k in range(2, self.order + 1):
            out.append(grams[k - 1][-1] if context.size else -1)
        return out

    def probs(self, context):
        """The next-token distribution after `context` (1-D ids, may be
        empty; only its last `order-1` tokens matter).

        Returns:
            float64 array `(vocab_size,)` summing to 1.
        """
        self._check_fitted()
        history = self._history(context)
        words = np.arange(self.vocab_size, dtype=np.int64)
        contexts = [None, None] + [
            np.full(self.vocab_size, h, dtype=np.int64) for h in history[2:]
        ]
        return self._probs(words, contexts)

    def log_prob(self, context, token):
        """Natural-log probability of one `token` after `context` (1-D ids).

        `token` outside the vocabulary is scored as `unk_id`.
        """
        self._check_fitted()
        history = self._history(context)
        words = self._clean("token", [int(token)])
        contexts = [None, None] + [
            np.array([h], dtype=np.int64) for h in history[2:]
        ]
        return float(np.log(self._probs(words, contexts)[0]))

    # ------------------------------------------------------------------
    # Saving.

    def get_config(self):
        discount = self.discount
        return {
            "vocab_size": self.vocab_size,
            "order": self.order,
            "discount": list(discount)
            if isinstance(discount, tuple)
            else (discount),
            "unk_id": self.unk_id,
        }

    def save(self, path):
        """Writes the configuration and the counts to an `.npz` file."""
        self._check_fitted()
        arrays = {"config": np.array(json.dumps(self.get_config()))}
        for k in range(1, self.order + 1):
            for name, value in self.tables[k].items():
                arrays[f"{k}/{name}"] = value
        arrays["discounts"] = np.array(self.discounts)
        arrays["num_ngrams"] = np.array(self.num_ngrams)
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path):
        """Reads a model written by `save`."""
        with np.load(path) as data:
            config = json.loads(str(data["config"]))
            model = cls(**config)
            levels = [None]
            for k in range(1, model.order + 1):
                prefix = f"{k}/"
                levels.append(
                    {
                        key[len(prefix) :]: data[key]
                        for key in data.files
                        if key.startswith(prefix)
                    }
                )
            model.discounts = [tuple(d) for d in data["discounts"].tolist()]
            model.num_ngrams = data["num_ngrams"].tolist()
        model.tables = levels
        return model

    def __repr__(self):
        state = "fitted" if self.tables is not None else "not fitted"
        return (
            f"KneserNeyLM(vocab_size={self.vocab_size}, order={self.order}, "
            f"discount={self.discount!r}, {state})"
        )


def _empty_level():
    empty = np.zeros(0, dtype=np.int64)
    return {"keys": empty, "context": empty, "suffix": empty, "counts": empty}


def _lookup(level, history, words, vocab_size):
    """Index of the n-gram (history, word) in `level`, -1 when unseen."""
    keys = level["keys"]
    out = np.full(np.shape(words), -1, dtype=np.int64)
    valid = history >= 0
    if not keys.size or not valid.any():
        return out
    query = history[valid] * vocab_size + words[valid]
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    found = keys[pos] == query
    out[np.flatnonzero(valid)[found]] = pos[found]
    return out


def _context_stats(level, num_contexts, discounts):
    """Per history: the adjusted-count total and the backoff weight gamma."""
    adjusted = level["adjusted"]
    d = np.array((0.0,) + tuple(discounts))
    gram_discount = d[np.minimum(adjusted, 3)]
    context = level["context"]
    total = np.bincount(
        context, weights=adjusted.astype(np.float64), minlength=num_contexts
    ).astype(np.float64)
    mass = np.bincount(
        context, weights=gram_discount, minlength=num_contexts
    ).astype(np.float64)
    gamma = np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)
    return {"gram_discount": gram_discount, "total": total, "gamma": gamma}


def _interpolate(level, history, grams, lower):
    """p_k from p_{k-1} (`lower`) for queries with `history` and `grams`
    (indices into the (k-1)-grams and the k-grams, -1 when unseen)."""
    total = level["total"]
    if not total.size:
        return lower
    safe_history = np.maximum(history, 0)
    seen = (history >= 0) & (total[safe_history] > 0)
    if not seen.any():
        return lower
    safe_grams = np.maximum(grams, 0)
    if level["adjusted"].size:
        discounted = (
            level["adjusted"][safe_grams] - (level["gram_discount"][safe_grams])
        )
        discounted = np.where(grams >= 0, np.maximum(discounted, 0.0), 0.0)
    else:
        discounted = np.zeros(np.shape(grams))
    denom = np.where(seen, total[safe_history], 1.0)
    p = discounted / denom + level["gamma"][safe_history] * lower
    return np.where(seen, p, lower)
