"""A unigram cache interpolated with any language model."""

import itertools

import numpy as np

from kdl import _validation

DEFAULT_WINDOWS = (50, 100, 200, 500, 1000, 2000, 5000)
DEFAULT_LAMBDAS = (0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3)


def _token_log_probs(log_probs, ids):
    ids = np.asarray(ids).reshape(-1).astype(np.int64)
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim == 2:
        if log_probs.shape[0] != ids.size:
            raise ValueError(
                "`log_probs` of shape (T, vocab_size) needs T = len(ids). "
                f"Received: log_probs.shape={log_probs.shape}, "
                f"len(ids)={ids.size}"
            )
        log_probs = np.take_along_axis(log_probs, ids[:, None], 1)[:, 0]
    if log_probs.shape != ids.shape:
        raise ValueError(
            "`log_probs` must hold one log probability per token of `ids` "
            "(shape (T,)) or one distribution per token (shape (T, V)). "
            f"Received: log_probs.shape={log_probs.shape}, "
            f"len(ids)={ids.size}"
        )
    return log_probs, ids


def cache_counts(ids, window):
    """How often each token occurred among the `window` tokens before it.

    Returns:
        (counts, sizes): int arrays of `len(ids)`: `counts[t]` the
        occurrences of `ids[t]` in `ids[max(0, t - window):t]`, `sizes[t]`
        the length of that slice.
    """
    window = _validation.positive_integer("window", window)
    ids = np.asarray(ids).reshape(-1).astype(np.int64)
    length = ids.size
    t = np.arange(length, dtype=np.int64)
    # Keys sorted by (token, position): the occurrences of ids[t] before t
    # and from t - window on are a contiguous range of them.
    keys = np.sort(ids * (length + 1) + t)
    base = ids * (length + 1)
    before = np.searchsorted(keys, base + t)
    start = np.searchsorted(keys, base + np.maximum(t - window, 0))
    return before - start, np.minimum(t, window)


def cache_log_probs(log_probs, ids, window, lam):
    """Per-token log probabilities of a model mixed with a unigram cache.

    `p(w_t) = (1 - lam) p_model(w_t | history) + lam p_cache(w_t)`, with
    `p_cache(w) = count of w in the last `window` tokens / their number`
    (Kuhn & De Mori 1990; Jelinek et al. 1991). The cache is a
    distribution over the vocabulary, so the mixture is one too. The first
    token (empty cache) keeps `p_model`.

    Args:
        log_probs: the model's natural-log probabilities of the tokens of
            `ids` (shape `(T,)`), or its full log distributions `(T, V)`
            (e.g. `log_softmax` of an RNN's logits over the stream).
        ids: 1-D int array of the `T` tokens scored.
        window: the cache size N (positive int).
        lam: the cache weight, a float in [0, 1].

    Returns:
        float64 array `(T,)` of mixed log probabilities.
    """
    window = _validation.positive_integer("window", window)
    lam = _validation.number("lam", lam, 0, 1)
    log_probs, ids = _token_log_probs(log_probs, ids)
    if lam == 0.0:
        return log_probs.copy()
    counts, sizes = cache_counts(ids, window)
    p_cache = np.divide(counts, sizes, out=np.zeros(ids.size), where=sizes > 0)
    with np.errstate(divide="ignore"):
        model_part = np.log1p(-lam) + log_probs
        cache_part = np.log(lam * p_cache)
    mixed = np.logaddexp(model_part, cache_part)
    return np.where(sizes > 0, mixed, log_probs)


class CacheLM:
    """A language model interpolated with a unigram cache of recent tokens.

    Wraps any model with a `log_probs(ids)` method (per-token natural-log
    probabilities of a stream, e.g. `kdl.models.KneserNeyLM`,
    `kdl.models.FeedForwardLM`) and mixes each token's probability with
    the frequency of that token among the last `window` tokens:

        p(w_t | h) = (1 - lam) p_model(w_t | h) + lam c_t(w_t) / |cache_t|.

    For a model that gives per-step distributions some other way, use
    `cache_log_probs(log_probs, ids, window, lam)` on them directly. Tune
    `window` and `lam` on validation data with `CacheLM.tune` (the SCRN
    paper's "N-gram + cache" baseline is a Kneser-Ney 5-gram with a cache,
    Penn Treebank test perplexity 125 against 141 without).

    Args:
        model: an object with `log_probs(ids) -> (T,) array`.
        window: the cache size N (positive int, default 500).
        lam: the cache weight (float in [0, 1], default 0.1).

    Attributes:
        tuning: after `tune`, the grid's `{(window, lam): perplexity}`.

    Example:

    >>> kn = KneserNeyLM(10000).fit(train_ids)
    >>> cached = CacheLM.tune(kn, valid_ids)
    >>> cached.window, cached.lam, cached.perplexity(test_ids)

    References:
        Kuhn & De Mori. A cache-based natural language model for speech
        recognition. IEEE PAMI 12(6), 1990. Jelinek, Merialdo, Roukos &
        Strauss. A dynamic language model for speech recognition. HLT 1991.
    """

    def __init__(self, model, window=500, lam=0.1):
        if not callable(getattr(model, "log_probs", None)):
            raise ValueError(
                "`model` must have a `log_probs(ids)` method. "
                f"Received: model={model!r}"
            )
        self.model = model
        self.window = _validation.positive_integer("window", window)
        self.lam = _validation.number("lam", lam, 0, 1)
        self.tuning = None

    def log_probs(self, ids):
        """Mixed natural-log probability of every token of `ids`."""
        return cache_log_probs(
            self.model.log_probs(ids), ids, self.window, self.lam
        )

    def perplexity(self, ids):
        """`exp(-mean log p)` of the mixture over the stream `ids`."""
        return _perplexity(self.log_probs(ids))

    @classmethod
    def tune(cls, model, ids, windows=DEFAULT_WINDOWS, lambdas=DEFAULT_LAMBDAS):
        """A `CacheLM` with the (window, lam) of lowest perplexity on `ids`.

        The model scores `ids` once; every grid point reuses its log
        probabilities. Ties go to the earlier grid point.

        Args:
            model: an object with `log_probs(ids)`.
            ids: validation token ids.
            windows: candidate cache sizes.
            lambdas: candidate cache weights in [0, 1].

        Returns:
            The tuned `CacheLM`; its `tuning` attribute holds the grid.
        """
        windows = _validation.integer_list("windows", list(windows))
        lambdas = [_validation.number("lambdas", lam, 0, 1) for lam in lambdas]
        if not lambdas:
            raise ValueError("`lambdas` must not be empty. Received: []")
        base = model.log_probs(ids)
        grid = {
            (window, lam): _perplexity(cache_log_probs(base, ids, window, lam))
            for window, lam in itertools.product(windows, lambdas)
        }
        best = min(grid, key=grid.get)
        tuned = cls(model, window=best[0], lam=best[1])
        tuned.tuning = grid
        return tuned

    def __repr__(self):
        return f"CacheLM({self.model!r}, window={self.window}, lam={self.lam})"


def _perplexity(log_probs):
    if log_probs.size == 0:
        raise ValueError("`ids` must hold at least one token. Received: []")
    return float(np.exp(-np.mean(log_probs)))
