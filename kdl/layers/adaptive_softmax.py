"""The adaptive softmax of Grave et al. (2017): a fast exact softmax for
large vocabularies."""

import keras
from keras import ops

from kdl import _validation


def _combined_mask(mask):
    """A mask, or a (nested) list of masks and Nones: their logical and."""
    if not isinstance(mask, (list, tuple)):
        return mask
    masks = [_combined_mask(m) for m in mask]
    masks = [m for m in masks if m is not None]
    if not masks:
        return None
    combined = ops.cast(masks[0], "bool")
    for m in masks[1:]:
        combined = ops.logical_and(combined, ops.cast(m, "bool"))
    return combined


@keras.saving.register_keras_serializable(package="kdl")
class AdaptiveSoftmax(keras.layers.Layer):
    """Adaptive softmax: a head over frequent words, small tails for the rest.

    The vocabulary is cut into a shortlist `[0, cutoffs[0])` and tail
    clusters `[cutoffs[i], cutoffs[i + 1])` (the last one ends at
    `vocab_size`). The head is a softmax over the shortlist words plus one
    token per tail cluster; tail cluster `i` is a softmax over its words,
    computed from a projection of the input to `d / div_value ** (i + 1)`
    dimensions (at least 1). The probability of a word is the paper's
    factorisation

        p(w | h) = p_head(w | h)                              (shortlist)
        p(w | h) = p_head(cluster i | h) * p_i(w | h)         (tail i)

    an exact, normalised distribution over the `vocab_size` words (not an
    estimate such as a sampled softmax).

    **Token ids must be sorted by decreasing frequency**, so that the
    shortlist holds the frequent words and the tails the rare ones (the
    speed-up comes from rarely computing a tail). The vocabularies of
    `kdl.datasets.load_text` are built that way: ids are the reserved
    tokens (`<unk>`, `<eos>`) followed by the training tokens in decreasing
    count order (`kdl.datasets.text_data`; `Vocabulary` itself keeps the
    order it is given).

    Training (`call(hidden, targets)`) computes `-log p(target)` per token
    without the full softmax: the head on every row, and tail cluster `i`
    only on the rows whose target falls in it. Those rows are found with
    `keras.ops.nonzero` and gathered with `keras.ops.take` (dynamic shapes;
    TensorFlow graph mode handles them; on JAX, which traces static
    shapes, every tail is computed on every row and masked: correct, but
    no faster than a full softmax), so on TensorFlow the cost is
    `rows * d * (cutoffs[0] + clusters)` plus, per cluster,
    `rows in the cluster * (d * d_i + d_i * cluster size)`. Evaluation and
    sampling use `log_probs(hidden)`, the exact `(..., vocab_size)`
    log-probabilities (the full cost). Both give the same
    `log p(target)` (tested to float precision).

    XLA (`jit_compile=True`) compiles the gathers by padding them to the
    batch, so every cluster is computed on all rows: correct, but no faster
    than a full softmax. Keras's default `jit_compile="auto"` does not use
    XLA on CPU-only machines; on GPU pass `jit_compile=False` to keep the
    speed-up.

    Masks: positions whose mask is False (from `mask=`, or propagated by
    Keras, e.g. from `Embedding(mask_zero=True)`) get a loss of 0 and no
    gradient, and their targets are not looked at (padding may hold any
    id). Mixed precision: the matrix products run in the compute dtype;
    logits, log-probabilities and losses are float32, the weights stay
    float32.

    Args:
        vocab_size: the number of words, an integer >= 2.
        cutoffs: strictly increasing integers in `[1, vocab_size)`: the
            shortlist is `[0, cutoffs[0])`, tail `i` is
            `[cutoffs[i], cutoffs[i + 1])` (the last up to `vocab_size`).
            E.g. `[2000, 10000]` for 50K words.
        div_value: each tail cluster divides the projection size by this
            again (a float >= 1; 4.0 as in the paper and PyTorch's
            `AdaptiveLogSoftmaxWithLoss`).
        head_bias: add a bias to the head logits (as PyTorch, default
            False). Tail clusters have no bias.
        kernel_initializer: initializer of every kernel and projection.
        bias_initializer: initializer of the head bias.
        **kwargs: base `Layer` arguments (name, dtype, ...).

    Call arguments:
        inputs: the hidden states `(..., d)`, or a list
            `[hidden, targets]`.
        targets: optional int ids `(...)` in `[0, vocab_size)`, the shape of
            `hidden` without its last axis. Unmasked ids outside the range
            are an error (an out-of-range gather), except negative ids that
            fall in the head, which are not checked.
        mask: optional boolean `(...)`: False positions are padding.
        inputs_mask: the mask of `hidden` when `targets` is passed as a
            separate argument (Keras fills it in from a propagated mask, as
            for `MultiHeadAttention`'s `query_mask`); combined with `mask`.

    Returns:
        Without targets: the float32 log-probabilities
        `(..., vocab_size)`, exactly normalised. With targets: the float32
        per-token loss `-log p(target)`, shape `(...)`, 0 where masked
        (average it for the mean cross-entropy; its `exp` is the
        perplexity). Training and inference compute the same thing.

    Example:

    ```python
    softmax = kdl.layers.AdaptiveSoftmax(50000, cutoffs=[2000, 10000])
    hidden = keras.layers.LSTM(512, return_sequences=True)(embedded)
    loss = ops.mean(softmax(hidden, targets))  # training: fast
    log_p = softmax.log_probs(hidden)          # (batch, T, 50000), exact
    ```

    Reference:
        Grave, Joulin, Cisse, Grangier, Jegou, "Efficient softmax
        approximation for GPUs", ICML 2017 (arXiv:1609.04309).
    """

    def __init__(
        self,
        vocab_size,
        cutoffs,
        div_value=4.0,
        head_bias=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = _validation.integer(
            "vocab_size", vocab_size, min_value=2
        )
        self.cutoffs = _validation.integer_list(
            "cutoffs",
            cutoffs,
            min_value=1,
            max_value=self.vocab_size - 1,
            increasing=True,
        )
        self.div_value = _validation.number(
            "div_value", div_value, min_value=1.0
        )
        self.head_bias = _validation.boolean("head_bias", head_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    # ------------------------------------------------------------------
    @property
    def shortlist_size(self):
        """The number of words of the head, `cutoffs[0]`."""
        return self.cutoffs[0]

    @property
    def num_clusters(self):
        """The number of tail clusters, `len(cutoffs)`."""
        return len(self.cutoffs)

    @property
    def cluster_bounds(self):
        """`[(start, end), ...]` word ranges of the tail clusters."""
        ends = self.cutoffs[1:] + [self.vocab_size]
        return list(zip(self.cutoffs, ends))

    def projection_dims(self, input_dim):
        """The reduced dimension of each tail cluster for inputs of size
        `input_dim`: `max(1, int(input_dim // div_value ** (i + 1)))`."""
        return [
            max(1, int(input_dim // self.div_value ** (i + 1)))
            for i in range(self.num_clusters)
        ]

    # ------------------------------------------------------------------
    @staticmethod
    def _hidden_shape(input_shape):
        if input_shape and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[0])
        return tuple(input_shape)

    def build(self, input_shape):
        input_dim = self._hidden_shape(input_shape)[-1]
        if input_dim is None:
            raise ValueError(
                "AdaptiveSoftmax needs a known last input dimension. "
                f"Received: input_shape={input_shape}"
            )
        self.input_dim = int(input_dim)
        head_size = self.shortlist_size + self.num_clusters
        self.head_kernel = self.add_weight(
            name="head_kernel",
            shape=(self.input_dim, head_size),
            initializer=self.kernel_initializer,
        )
        self.head_bias_weight = None
        if self.head_bias:
            self.head_bias_weight = self.add_weight(
                name="head_bias",
                shape=(head_size,),
                initializer=self.bias_initializer,
            )
        self.tail_projections = []
        self.tail_kernels = []
        dims = self.projection_dims(self.input_dim)
        for i, ((start, end), dim) in enumerate(zip(self.cluster_bounds, dims)):
            self.tail_projections.append(
                self.add_weight(
                    name=f"tail_{i}_projection",
                    shape=(self.input_dim, dim),
                    initializer=self.kernel_initializer,
                )
            )
            self.tail_kernels.append(
                self.add_weight(
                    name=f"tail_{i}_kernel",
                    shape=(dim, end - start),
                    initializer=self.kernel_initializer,
                )
            )
        self.built = True

    # ------------------------------------------------------------------
    def _prepare(self, hidden):
        hidden = ops.convert_to_tensor(hidden)
        if not self.built:
            self.build(tuple(hidden.shape))
        return ops.cast(hidden, self.compute_dtype)

    def _weight(self, variable):
        # In the compute dtype also when called outside `__call__` (where
        # Keras's autocast does not apply), e.g. `log_probs` directly.
        return ops.cast(variable, self.compute_dtype)

    def _head_log_probs(self, hidden):
        logits = ops.matmul(hidden, self._weight(self.head_kernel))
        if self.head_bias_weight is not None:
            logits = logits + self._weight(self.head_bias_weight)
        return ops.log_softmax(ops.cast(logits, "float32"), axis=-1)

    def _tail_logits(self, hidden, i):
        projected = ops.matmul(hidden, self._weight(self.tail_projections[i]))
        logits = ops.matmul(projected, self._weight(self.tail_kernels[i]))
        return ops.cast(logits, "float32")

    def log_probs(self, hidden):
        """The exact log-probabilities of every word.

        Args:
            hidden: `(..., d)` hidden states.

        Returns:
            float32 `(..., vocab_size)`: `log p(w | hidden)`, whose `exp`
            sums to 1 over the vocabulary. Costs a full softmax.
        """
        hidden = self._prepare(hidden)
        head = self._head_log_probs(hidden)
        short = self.shortlist_size
        parts = [head[..., :short]]
        for i in range(self.num_clusters):
            tail = ops.log_softmax(self._tail_logits(hidden, i), axis=-1)
            parts.append(head[..., short + i : short + i + 1] + tail)
        return ops.concatenate(parts, axis=-1)

    def token_loss(self, hidden, targets, mask=None):
        """`-log p(target | hidden)` per token, without the full softmax.

        Args:
            hidden: `(..., d)` hidden states.
            targets: int ids `(...)`.
            mask: optional boolean `(...)`; False positions get 0.

        Returns:
            float32 `(...)`, the shape of `targets`.
        """
        hidden = self._prepare(hidden)
        targets = ops.cast(targets, "int32")
        shape = ops.shape(targets)
        flat_hidden = ops.reshape(hidden, (-1, ops.shape(hidden)[-1]))
        flat_targets = ops.reshape(targets, (-1,))
        rows = ops.shape(flat_targets)[0]
        valid = None
        if mask is not None:
            valid = ops.reshape(ops.cast(mask, "bool"), (-1,))
        # Cluster of every target: 0 = shortlist, i + 1 = tail i.
        cluster = ops.zeros_like(flat_targets)
        for cutoff in self.cutoffs:
            cluster = cluster + ops.cast(flat_targets >= cutoff, "int32")
        short = self.shortlist_size
        column = ops.where(cluster == 0, flat_targets, short + cluster - 1)
        if valid is not None:
            column = ops.where(valid, column, 0)
        head = self._head_log_probs(flat_hidden)
        head_size = short + self.num_clusters
        # int64: rows * head_size may pass 2**31 on long evaluations.
        flat_index = ops.arange(rows, dtype="int64") * head_size + ops.cast(
            column, "int64"
        )
        log_p = ops.take(ops.reshape(head, (-1,)), flat_index)
        # Dynamic shapes (only the rows of each cluster) on TensorFlow; JAX
        # traces static shapes, so there every tail sees every row.
        dynamic = keras.backend.backend() == "tensorflow"
        for i, (start, _) in enumerate(self.cluster_bounds):
            in_cluster = cluster == i + 1
            if valid is not None:
                in_cluster = ops.logical_and(in_cluster, valid)
            if dynamic:
                index = ops.nonzero(in_cluster)[0]
                rows_hidden = ops.take(flat_hidden, index, axis=0)
                word = ops.take(flat_targets, index, axis=0) - start
            else:  # every row; those outside the cluster are masked out
                rows_hidden = flat_hidden
                word = ops.where(in_cluster, flat_targets - start, 0)
            projected = ops.matmul(
                rows_hidden, self._weight(self.tail_projections[i])
            )
            kernel = self._weight(self.tail_kernels[i])
            logits = ops.cast(ops.matmul(projected, kernel), "float32")
            # The target's logit from its kernel column (no gather from the
            # dynamic-shaped logits).
            columns = ops.transpose(ops.take(kernel, word, axis=1))
            target = ops.sum(
                ops.cast(projected, "float32") * ops.cast(columns, "float32"),
                axis=-1,
            )
            tail = target - ops.logsumexp(logits, axis=-1)
            if dynamic:
                log_p = log_p + ops.scatter(index[:, None], tail, (rows,))
            else:
                log_p = log_p + ops.where(in_cluster, tail, 0.0)
        loss = -log_p
        if valid is not None:
            loss = ops.where(valid, loss, 0.0)
        return ops.reshape(loss, shape)

    # ------------------------------------------------------------------
    @staticmethod
    def _split(inputs, targets):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2 or targets is not None:
                raise ValueError(
                    "AdaptiveSoftmax takes `hidden`, or `[hidden, targets]`,"
                    " or `hidden` and `targets=`. Received: "
                    f"inputs={inputs}, targets={targets}"
                )
            return inputs[0], inputs[1]
        return inputs, targets

    def call(self, inputs, targets=None, mask=None, inputs_mask=None):
        hidden, targets = self._split(inputs, targets)
        if targets is None:
            return self.log_probs(hidden)
        mask = _combined_mask([mask, inputs_mask])
        return self.token_loss(hidden, targets, mask)

    def compute_mask(self, inputs, mask=None):
        return _combined_mask(mask)

    def compute_output_shape(self, input_shape):
        if input_shape and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[1])
        return tuple(input_shape)[:-1] + (self.vocab_size,)

    def compute_output_spec(
        self, inputs, targets=None, mask=None, inputs_mask=None
    ):
        hidden, targets = self._split(inputs, targets)
        if targets is None:
            shape = tuple(hidden.shape)[:-1] + (self.vocab_size,)
        else:
            shape = tuple(targets.shape)
        return keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "cutoffs": list(self.cutoffs),
            "div_value": self.div_value,
            "head_bias": self.head_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
        }
