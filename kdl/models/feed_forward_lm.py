"""Bengio et al. (2003) feed-forward neural n-gram language model."""

import keras
import numpy as np
from keras import ops

from kdl import _validation
from kdl.layers.adaptive_softmax import AdaptiveSoftmax
from kdl.models.adaptive_softmax_steps import AdaptiveSoftmaxSteps


@keras.saving.register_keras_serializable(package="kdl")
class FeedForwardLM(AdaptiveSoftmaxSteps, keras.Model):
    """The neural probabilistic language model of Bengio et al. (2003).

    The `order-1` previous tokens are looked up in a shared embedding
    table C, concatenated into `x = [C(w_{t-n+1}), ..., C(w_{t-1})]`, and

        y = b + W x + U tanh(d + H x),   p(w_t | context) = softmax(y),

    (eq. 1 of the paper), where `W x`, the direct connections from the
    embeddings to the output, is only there with `direct=True`. The
    context is in stream order (oldest first; the paper lists it newest
    first, which only permutes H's rows). Training and inference are the
    same computation (no dropout); there is no mask (every context is
    complete: pad the start of a stream with `kdl.datasets.ngram_windows`'
    `pad_id`).

    Build the training pairs with `kdl.datasets.ngram_dataset(ids, order,
    batch_size)` and train with `SparseCategoricalCrossentropy(
    from_logits=True)`; `perplexity(ids)` scores a whole stream and
    `log_probs(ids)` gives per-token log probabilities (for
    `kdl.models.CacheLM`).

    Args:
        vocab_size: the number of token ids (positive int).
        order: the n of the n-gram model (int >= 2): the model reads
            `order-1` context ids. Default 5.
        embedding_dim: m, the size of each token's feature vector.
        hidden_units: h, the tanh hidden layer's width.
        direct: add the direct connections W from the embeddings to the
            output (the paper's best models on AP News used them; full
            softmax only).
        softmax: `"full"` (a `Dense(vocab_size)` softmax, the paper's) or
            `"adaptive"`: `kdl.layers.AdaptiveSoftmax(vocab_size, cutoffs,
            div_value, head_bias=True)` over the hidden layer (Grave et al.
            2017; ids sorted by decreasing frequency). Then `fit` trains on
            the adaptive loss without the full softmax, and the model's
            output, `evaluate` and `log_probs` are the exact normalised
            log-probabilities (see `kdl.models.RNNLanguageModel`).
        cutoffs: the adaptive softmax's cluster boundaries (required with
            `softmax="adaptive"`, refused with `"full"`).
        div_value: the adaptive softmax's projection divisor (default 4).
        **kwargs: `keras.Model` arguments (`name`, ...).

    Call arguments:
        inputs: int `(batch, order-1)` context ids.

    Returns:
        float32 logits `(batch, vocab_size)` (float32 also under mixed
        precision, so that the softmax is stable).

    Example:

    >>> ds = kdl.datasets.ngram_dataset(train_ids, 5, 256, shuffle=True)
    >>> lm = kdl.models.FeedForwardLM(10000, order=5)
    >>> lm.compile("adam", keras.losses.SparseCategoricalCrossentropy(True))
    >>> lm.fit(ds, epochs=5)
    >>> lm.perplexity(test_ids)

    Reference:
        Bengio, Ducharme, Vincent & Jauvin. A Neural Probabilistic Language
        Model. JMLR 3, 2003.
    """

    def __init__(
        self,
        vocab_size,
        order=5,
        embedding_dim=100,
        hidden_units=200,
        direct=False,
        softmax="full",
        cutoffs=None,
        div_value=4.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = _validation.positive_integer("vocab_size", vocab_size)
        self.order = _validation.integer("order", order, min_value=2)
        self.embedding_dim = _validation.positive_integer(
            "embedding_dim", embedding_dim
        )
        self.hidden_units = _validation.positive_integer(
            "hidden_units", hidden_units
        )
        self.direct = _validation.boolean("direct", direct)
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, dtype=policy, name="embedding"
        )
        self.flatten = keras.layers.Flatten(dtype=policy, name="concatenate")
        self.hidden = keras.layers.Dense(
            self.hidden_units, activation="tanh", dtype=policy, name="hidden"
        )
        self.softmax = _validation.one_of(
            "softmax", softmax, ("full", "adaptive")
        )
        self.div_value = _validation.number(
            "div_value", div_value, min_value=1.0
        )
        if self.adaptive:
            if cutoffs is None or self.direct:
                raise ValueError(
                    "softmax='adaptive' needs `cutoffs` and no direct "
                    f"connections. Received: cutoffs={cutoffs}, "
                    f"direct={direct}"
                )
            self.output_layer = AdaptiveSoftmax(
                self.vocab_size,
                cutoffs,
                div_value=div_value,
                head_bias=True,
                dtype=policy,
                name="output",
            )
            self.cutoffs = list(self.output_layer.cutoffs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
        elif cutoffs is not None:
            raise ValueError(
                "`cutoffs` is only for softmax='adaptive'. Received: "
                f"cutoffs={cutoffs}, softmax={softmax!r}"
            )
        else:
            self.cutoffs = None
            self.output_layer = keras.layers.Dense(
                self.vocab_size, dtype=policy, name="output"
            )
        self.direct_layer = (
            keras.layers.Dense(
                self.vocab_size, use_bias=False, dtype=policy, name="direct"
            )
            if self.direct
            else None
        )

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.order - 1:
            raise ValueError(
                f"FeedForwardLM(order={self.order}) reads {self.order - 1} "
                f"context ids per example. Received: input_shape={input_shape}"
            )
        batch = input_shape[0]
        features = (self.order - 1) * self.embedding_dim
        # A sublayer may have been built by a first call already (the
        # adaptive train_step calls them, not the model).
        for layer, shape in (
            (self.embedding, (batch, self.order - 1)),
            (self.flatten, (batch, self.order - 1, self.embedding_dim)),
            (self.hidden, (batch, features)),
            (self.output_layer, (batch, self.hidden_units)),
            (self.direct_layer, (batch, features)),
        ):
            if layer is not None and not layer.built:
                layer.build(shape)
        self.built = True

    @property
    def adaptive(self):
        return getattr(self, "softmax", "full") == "adaptive"

    def output_head(self):
        return self.output_layer

    def features(self, inputs, training=None):
        return self.hidden(self.flatten(self.embedding(inputs)))

    def call(self, inputs):
        x = self.flatten(self.embedding(inputs))
        # Full: logits; adaptive: the exact log-probabilities.
        y = self.output_layer(self.hidden(x))
        if self.direct_layer is not None:
            y = y + self.direct_layer(x)
        return ops.cast(y, "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.vocab_size)

    def log_probs(self, ids, pad_id=0, batch_size=1024):
        """Natural-log probability of every token of a stream.

        Token t is scored after the `order-1` tokens before it; the stream
        is left-padded with `pad_id` (e.g. the `<eos>` id, as if the
        stream followed a sentence end), so every token is scored.

        Args:
            ids: 1-D int array of token ids.
            pad_id: the id before the stream (default 0, kdl's `<unk>`).
            batch_size: contexts per forward pass.

        Returns:
            float64 array `(len(ids),)`.
        """
        pad_id = _validation.non_negative_integer("pad_id", pad_id)
        batch_size = _validation.positive_integer("batch_size", batch_size)
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                "`ids` must be a 1-D array of integer token ids. Received: "
                f"ids with shape {ids.shape} and dtype {ids.dtype}"
            )
        if ids.size == 0:
            return np.zeros(0, dtype=np.float64)
        padded = np.concatenate([np.full(self.order - 1, pad_id), ids]).astype(
            "int32"
        )
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.order)
        # Every forward pass gets the same shape: the last chunk is filled
        # up with copies of its first window and the extra rows dropped.
        # On JAX each new input shape compiles the layers' ops again.
        size = min(batch_size, len(windows))
        out = []
        for start in range(0, len(windows), size):
            chunk = windows[start : start + size]
            rows = len(chunk)
            if rows < size:
                chunk = np.concatenate(
                    [chunk, np.repeat(chunk[:1], size - rows, axis=0)]
                )
            logits = self(chunk[:, :-1], training=False)
            log_p = ops.log_softmax(logits, axis=-1)
            target = ops.convert_to_tensor(chunk[:, -1:])
            picked = ops.take_along_axis(log_p, target, axis=-1)
            out.append(ops.convert_to_numpy(picked)[:rows, 0])
        return np.concatenate(out).astype(np.float64)

    def perplexity(self, ids, pad_id=0, batch_size=1024):
        """`exp(-mean log p)` over every token of the stream `ids`."""
        log_probs = self.log_probs(ids, pad_id=pad_id, batch_size=batch_size)
        if log_probs.size == 0:
            raise ValueError("`ids` must hold at least one token. Received: []")
        return float(np.exp(-np.mean(log_probs)))

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "order": self.order,
            "embedding_dim": self.embedding_dim,
            "hidden_units": self.hidden_units,
            "direct": self.direct,
            "softmax": self.softmax,
            "cutoffs": self.cutoffs,
            "div_value": self.div_value,
        }
