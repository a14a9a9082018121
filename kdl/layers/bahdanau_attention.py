"""Bahdanau (additive) attention with the W_a / U_a projections."""

import math

import keras
from keras import ops

from kdl import _validation


def _as_shape(shape):
    return tuple(shape) if shape is not None else None


@keras.saving.register_keras_serializable(package="kdl")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention of Bahdanau et al.: `e = v^T tanh(W_a q + U_a k)`.

    For every query `q` (the previous decoder state `s_{t-1}`) and every
    source position `k` (the encoder annotation `h_k`), the layer scores
    `e_k = v_a^T tanh(W_a q + U_a h_k [+ b])`, normalises the scores with a
    softmax over the source, `alpha_k = softmax_k(e_k)`, and returns the
    context `c = sum_k alpha_k value_k`. Unlike
    `keras.layers.AdditiveAttention`, the query and the key are projected by
    learned matrices `W_a` (dq x units) and `U_a` (dk x units), so query and
    key may have different sizes.

    `U_a k` does not depend on the decoder step: compute it once per source
    with `process_key(key)` and pass it to every step as `processed_key=`.

    With `normalize=True` the score vector is weight-normalised,
    `v = g * v / ||v||` with a learned scalar `g` (initialised to
    `sqrt(1 / units)`), and a bias is added inside the `tanh` (the
    "normalized Bahdanau" form of TensorFlow Addons).

    Training and inference compute the same thing (no dropout). Under
    mixed precision the `tanh` layer and its dot with `v` run in the
    compute dtype (as in `keras.layers.AdditiveAttention`); the scores are
    then cast to float32 for the masking and the softmax, and the weights
    and outputs cast back to the compute dtype.

    Masking: the value (source) mask gives padded positions exactly zero
    weight, so padding never changes the context; a source with no valid
    position gets an all-zero weight row and a zero context. With a rank-3
    query, the query mask zeroes the context at padded query steps and is
    propagated.

    Args:
        units: positive int, size of the attention hidden layer (the rows of
            `W_a`, `U_a` and the length of `v_a`).
        normalize: bool, weight-normalise `v_a` (adds the scalar `g` and a
            bias).
        use_bias: bool, add a learned bias inside the `tanh` (always on when
            `normalize=True`).
        kernel_initializer: initializer of `W_a`, `U_a` and `v_a`.
        bias_initializer: initializer of the bias.
        kernel_regularizer: optional regularizer of `W_a`, `U_a` and `v_a`.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a list `[query, value]` or `[query, value, key]` (the key
            defaults to the value). `query`: `(batch, dq)` for one decoder
            step or `(batch, Tq, dq)` for all steps; `value`:
            `(batch, Tv, dv)`; `key`: `(batch, Tv, dk)`.
        mask: a list of masks matching `inputs` (Keras passes it
            automatically), or a single boolean `(batch, Tv)` value mask.
        return_attention_scores: bool, also return the alignment weights.
        processed_key: optional `(batch, Tv, units)` output of
            `process_key(key)`; when given, the key is not projected again.
        training: unused (the layer has no dropout).

    Returns:
        The context, `(batch, dv)` for a rank-2 query or `(batch, Tq, dv)`
        for a rank-3 query; with `return_attention_scores=True` a tuple
        `(context, weights)` with weights `(batch, Tv)` or
        `(batch, Tq, Tv)` that sum to one over the valid source positions.

    Example:

    >>> attention = kdl.layers.BahdanauAttention(16)
    >>> state = np.zeros((2, 32), "float32")      # decoder state s_{t-1}
    >>> annotations = np.ones((2, 7, 24), "float32")  # encoder h_1..h_7
    >>> context, weights = attention(
    ...     [state, annotations], return_attention_scores=True)
    >>> context.shape, weights.shape
    (TensorShape([2, 24]), TensorShape([2, 7]))

    Reference:
        Bahdanau, Cho, Bengio, "Neural Machine Translation by Jointly
        Learning to Align and Translate", ICLR 2015 (arXiv:1409.0473),
        appendix A.1.2; Salimans & Kingma, "Weight Normalization", 2016.
    """

    def __init__(
        self,
        units,
        normalize=False,
        use_bias=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.positive_integer("units", units)

        self.normalize = _validation.boolean("normalize", normalize)
        self.use_bias = _validation.boolean("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.supports_masking = True

    # ------------------------------------------------------------------
    def _split_shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) not in (2, 3)
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                "BahdanauAttention expects inputs [query, value] or "
                f"[query, value, key]. Received: input_shape={input_shape}"
            )
        query_shape = _as_shape(input_shape[0])
        value_shape = _as_shape(input_shape[1])
        key_shape = (
            _as_shape(input_shape[2]) if len(input_shape) == 3 else value_shape
        )
        if len(query_shape) not in (2, 3):
            raise ValueError(
                "`query` must have rank 2 (batch, dq) or 3 (batch, Tq, dq). "
                f"Received: query.shape={query_shape}"
            )
        if len(value_shape) != 3:
            raise ValueError(
                "`value` must have rank 3 (batch, Tv, dv). "
                f"Received: value.shape={value_shape}"
            )
        if len(key_shape) != 3:
            raise ValueError(
                "`key` must have rank 3 (batch, Tv, dk). "
                f"Received: key.shape={key_shape}"
            )
        tv, tk = value_shape[1], key_shape[1]
        if tv is not None and tk is not None and tv != tk:
            raise ValueError(
                "`key` and `value` must have the same length Tv. Received: "
                f"key.shape={key_shape}, value.shape={value_shape}"
            )
        batches = {s[0] for s in (query_shape, value_shape, key_shape)}
        batches.discard(None)
        if len(batches) > 1:
            raise ValueError(
                "`query`, `value` and `key` must have the same batch size. "
                f"Received: query.shape={query_shape}, "
                f"value.shape={value_shape}, key.shape={key_shape}"
            )
        for name, shape in (("query", query_shape), ("key", key_shape)):
            if shape[-1] is None:
                raise ValueError(
                    f"The last dimension of `{name}` must be known. "
                    f"Received: {name}.shape={shape}"
                )
        return query_shape, value_shape, key_shape

    def build(self, input_shape):
        query_shape, _, key_shape = self._split_shapes(input_shape)
        self.query_dim = int(query_shape[-1])
        self.key_dim = int(key_shape[-1])
        self.query_kernel = self.add_weight(
            name="query_kernel",
            shape=(self.query_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.key_kernel = self.add_weight(
            name="key_kernel",
            shape=(self.key_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.score_kernel = self.add_weight(
            name="score_kernel",
            shape=(self.units,),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias or self.normalize:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
            )
        else:
            self.bias = None
        if self.normalize:
            self.score_scale = self.add_weight(
                name="score_scale",
                shape=(),
                initializer=keras.initializers.Constant(
                    math.sqrt(1.0 / self.units)
                ),
            )
        else:
            self.score_scale = None

    # ------------------------------------------------------------------
    def process_key(self, key):
        """Returns `U_a key (+ b)`, `(batch, Tv, units)`: once per source."""
        if not self.built:
            raise ValueError(
                "Call the layer (or `build` it) before `process_key`. "
                f"Received: key.shape={tuple(key.shape)}"
            )
        key = ops.cast(key, self.compute_dtype)
        if key.shape[-1] is not None and key.shape[-1] != self.key_dim:
            raise ValueError(
                f"`key` must have last dimension {self.key_dim}, as at "
                f"build time. Received: key.shape={tuple(key.shape)}"
            )
        processed = ops.matmul(key, ops.cast(self.key_kernel, key.dtype))
        if self.bias is not None:
            processed = processed + ops.cast(self.bias, key.dtype)
        return processed

    def _score_vector(self):
        v = self.score_kernel
        if self.normalize:
            v = self.score_scale * v / ops.sqrt(ops.sum(ops.square(v)))
        return v

    def _value_mask(self, mask, num_inputs):
        if mask is None:
            return None, None
        if isinstance(mask, (list, tuple)):
            query_mask = mask[0]
            value_mask = mask[1] if len(mask) > 1 else None
            if num_inputs == 3 and len(mask) > 2 and mask[2] is not None:
                value_mask = (
                    mask[2]
                    if value_mask is None
                    else ops.logical_and(value_mask, mask[2])
                )
            return query_mask, value_mask
        return None, mask

    def call(
        self,
        inputs,
        mask=None,
        return_attention_scores=False,
        processed_key=None,
        training=None,
    ):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(
                "BahdanauAttention expects inputs [query, value] or "
                f"[query, value, key]. Received: inputs={inputs}"
            )
        query = ops.cast(inputs[0], self.compute_dtype)
        value = ops.cast(inputs[1], self.compute_dtype)
        query_mask, value_mask = self._value_mask(mask, len(inputs))
        single_step = len(query.shape) == 2
        if single_step:
            query = ops.expand_dims(query, 1)
        if processed_key is None:
            key = inputs[2] if len(inputs) == 3 else value
            processed_key = self.process_key(key)
        else:
            processed_key = ops.cast(processed_key, self.compute_dtype)
            if processed_key.shape[-1] != self.units:
                raise ValueError(
                    f"`processed_key` must have last dimension units="
                    f"{self.units}. Received: "
                    f"processed_key.shape={tuple(processed_key.shape)}"
                )
        # (batch, Tq, units)
        projected_query = ops.matmul(
            query, ops.cast(self.query_kernel, query.dtype)
        )
        # (batch, Tq, Tv, units)
        hidden = ops.tanh(
            ops.expand_dims(projected_query, 2)
            + ops.expand_dims(processed_key, 1)
        )
        v = ops.cast(self._score_vector(), hidden.dtype)
        scores = ops.sum(hidden * v, axis=-1)  # (batch, Tq, Tv)
        scores = ops.cast(scores, "float32")
        if value_mask is not None:
            valid = ops.expand_dims(ops.cast(value_mask, "bool"), 1)
            scores = ops.where(valid, scores, -1e9)
            weights = ops.softmax(scores, axis=-1)
            weights = ops.where(valid, weights, 0.0)
        else:
            weights = ops.softmax(scores, axis=-1)
        weights = ops.cast(weights, self.compute_dtype)
        context = ops.matmul(weights, value)  # (batch, Tq, dv)
        if query_mask is not None and not single_step:
            context = context * ops.cast(
                ops.expand_dims(query_mask, -1), context.dtype
            )
        if single_step:
            context = ops.squeeze(context, 1)
            weights = ops.squeeze(weights, 1)
        if return_attention_scores:
            return context, weights
        return context

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)):
            return None
        query = inputs[0]
        if len(query.shape) == 2:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape):
        query_shape, value_shape, _ = self._split_shapes(input_shape)
        return tuple(query_shape[:-1]) + (value_shape[-1],)

    def compute_output_spec(
        self,
        inputs,
        mask=None,
        return_attention_scores=False,
        processed_key=None,
        training=None,
    ):
        shapes = [tuple(x.shape) for x in inputs]
        query_shape, value_shape, _ = self._split_shapes(shapes)
        context = keras.KerasTensor(
            self.compute_output_shape(shapes), dtype=self.compute_dtype
        )
        if not return_attention_scores:
            return context
        weights = keras.KerasTensor(
            tuple(query_shape[:-1]) + (value_shape[1],),
            dtype=self.compute_dtype,
        )
        return context, weights

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "normalize": self.normalize,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer
            ),
        }
