"""The RNN encoder-decoder translation model without attention."""

import keras
from keras import ops

from kdl import _validation
from kdl.models import custom_steps
from kdl.models import decoding

_CELLS = ("gru", "lstm")


@keras.saving.register_keras_serializable(package="kdl")
class Seq2Seq(keras.Model):
    """RNN encoder-decoder without attention ("sentence-level conditioning").

    The source is read by an embedding and a bidirectional GRU (or LSTM);
    its final forward and backward states `c = [h_fwd_T; h_bwd_1]` summarise
    the whole sentence. The decoder starts from `s_0 = tanh(W_s c)` and, at
    every step, reads `[y_{t-1}; c]` (the same summary at every step, as in
    Cho et al. 2014); the output layer sees `[s_t; c; y_{t-1}]` through a
    linear readout to `embedding_dim` units, then the softmax projection.
    `Seq2SeqAttention` replaces the fixed `c` by an attention context `c_t`
    and shares everything else, so the two compare fairly.

    Training is teacher-forced: `model((source_ids, target_in_ids))` returns
    logits `(batch, Tt, target_vocab_size)` (float32) for `target_out_ids`,
    and the model's output mask (`target_in_ids != 0`) makes Keras losses
    and metrics ignore padding. Inference uses `greedy_decode` and
    `beam_search`, which run batched and compiled (a `tf.function` on
    TensorFlow, `jax.jit` on JAX; the loop is an `ops.while_loop`) and stop
    when every sentence has emitted `end_id`. TensorFlow's XLA cannot
    compile the teacher-forced training step (the gradient of the decoder's
    `ops.scan`), so there the model sets `supports_jit = False` and
    `jit_compile="auto"` picks graph mode; on JAX the step is XLA-compiled
    (`jax.lax.scan`).

    Args:
        source_vocab_size: int, source vocabulary size (id 0 is padding).
        target_vocab_size: int, target vocabulary size (id 0 is padding).
        start_id: int, target id that starts every target sentence.
        end_id: int, target id that ends every target sentence.
        embedding_dim: int, size of the source and target embeddings and of
            the (linear) readout layer.
        units: int, units of each encoder direction and of the decoder.
        cell: `"gru"` or `"lstm"`.
        dropout: float in [0, 1), dropout on the embeddings and the readout
            (training only).
        max_output_length: int, default decode length limit.
        **kwargs: base `keras.Model` arguments (`name`, ...).

    Call arguments:
        inputs: a tuple `(source_ids, target_in_ids)` of int tensors
            `(batch, Ts)` and `(batch, Tt)`, 0-padded.
        training: bool, enables dropout.

    Returns:
        float32 logits `(batch, Tt, target_vocab_size)`.

    Example:

    >>> model = kdl.models.Seq2Seq(50, 60, start_id=1, end_id=2, units=32)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
    ...     from_logits=True))
    >>> tokens = model.greedy_decode(source_ids, max_length=20)

    Reference:
        Cho et al., "Learning Phrase Representations using RNN
        Encoder-Decoder for Statistical Machine Translation", EMNLP 2014;
        Sutskever, Vinyals, Le, "Sequence to Sequence Learning with Neural
        Networks", NIPS 2014; Wu et al., "Google's Neural Machine
        Translation System", 2016 (length penalty).
    """

    uses_attention = False

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        start_id,
        end_id,
        embedding_dim=128,
        units=256,
        cell="gru",
        dropout=0.0,
        max_output_length=100,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source_vocab_size = _validation.positive_integer(
            "source_vocab_size", source_vocab_size
        )
        self.target_vocab_size = _validation.positive_integer(
            "target_vocab_size", target_vocab_size
        )
        self.embedding_dim = _validation.positive_integer(
            "embedding_dim", embedding_dim
        )
        self.units = _validation.positive_integer("units", units)
        self.max_output_length = _validation.positive_integer(
            "max_output_length", max_output_length
        )
        # Id 0 is padding; ids must index the target vocabulary.
        last_id = self.target_vocab_size - 1
        self.start_id = _validation.integer("start_id", start_id, 1, last_id)
        self.end_id = _validation.integer("end_id", end_id, 1, last_id)
        if self.start_id == self.end_id:
            raise ValueError(
                "`start_id` and `end_id` must differ. Received: "
                f"start_id={start_id}, end_id={end_id}"
            )
        self.cell = _validation.one_of("cell", cell, _CELLS)
        self.dropout = _validation.rate("dropout", dropout)

        rnn = keras.layers.GRU if cell == "gru" else keras.layers.LSTM
        self.source_embedding = keras.layers.Embedding(
            self.source_vocab_size,
            self.embedding_dim,
            mask_zero=True,
            name="source_embedding",
        )
        self.target_embedding = keras.layers.Embedding(
            self.target_vocab_size,
            self.embedding_dim,
            name="target_embedding",
        )
        self.encoder = keras.layers.Bidirectional(
            rnn(self.units, return_sequences=True, return_state=True),
            name="encoder",
        )
        self.bridge = keras.layers.Dense(
            self.units, activation="tanh", name="bridge"
        )
        cell_cls = (
            keras.layers.GRUCell if cell == "gru" else keras.layers.LSTMCell
        )
        self.decoder_cell = cell_cls(self.units, name="decoder_cell")
        # A linear readout: a tanh here, fed by the small initial
        # embeddings, stalls training at the unigram distribution.
        self.readout = keras.layers.Dense(self.embedding_dim, name="readout")
        self.output_projection = keras.layers.Dense(
            self.target_vocab_size, name="output_projection"
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self._decode_functions = {}
        # TensorFlow's XLA cannot compile the gradient of the decoder's
        # `ops.scan`; this makes `compile(jit_compile="auto")` choose graph
        # mode there. JAX compiles it (`jax.lax.scan`).
        self.supports_jit = custom_steps.backend() == "jax"

    # ------------------------------------------------------------------
    # Building.
    def build(self, inputs_shape=None):
        e, u = self.embedding_dim, self.units
        self.source_embedding.build((None, None))
        self.target_embedding.build((None, None))
        self.encoder.build((None, None, e))
        self.bridge.build((None, 2 * u))
        self.decoder_cell.build((None, e + 2 * u))
        self._build_context((None, u), (None, None, 2 * u))
        self.readout.build((None, None, u + 2 * u + e))
        self.output_projection.build((None, None, e))
        self.built = True

    def _build_context(self, state_shape, annotations_shape):
        pass

    # ------------------------------------------------------------------
    # Encoder and one decoder step.
    def _split_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                "The model expects inputs (source_ids, target_in_ids). "
                f"Received: inputs={inputs}"
            )
        return inputs[0], inputs[1]

    def encode(self, source_ids, training=False):
        """Encodes a source batch.

        Returns `(memory, states)`: `memory` is a dict with `annotations`
        `(batch, Ts, 2*units)`, `mask` `(batch, Ts)`, `summary`
        `(batch, 2*units)` (and `processed_key` for attention models);
        `states` is the decoder's initial state list.
        """
        source_ids = ops.cast(source_ids, "int32")
        if len(source_ids.shape) != 2:
            raise ValueError(
                "`source_ids` must have shape (batch, Ts). Received: "
                f"source_ids.shape={tuple(source_ids.shape)}"
            )
        mask = ops.not_equal(source_ids, 0)
        embedded = self.source_embedding(source_ids)
        embedded = self.dropout_layer(embedded, training=training)
        outputs = self.encoder(embedded, mask=mask, training=training)
        annotations = outputs[0]
        if self.cell == "gru":
            forward, backward = outputs[1], outputs[2]
        else:
            forward, backward = outputs[1], outputs[3]
        summary = ops.concatenate([forward, backward], axis=-1)
        state = self.bridge(summary)
        if self.cell == "gru":
            states = [state]
        else:
            states = [state, ops.zeros_like(state)]
        memory = {"annotations": annotations, "mask": mask, "summary": summary}
        self._prepare_memory(memory)
        return memory, states

    def _prepare_memory(self, memory):
        pass

    def _context(self, state, memory):
        """Returns the context for decoder state `s_{t-1}` and alignments."""
        return memory["summary"], None

    def _recurrent_step(self, y_embedded, states, memory):
        """Bahdanau's order: c_t from s_{t-1}, then s_t = f(s_{t-1}, y, c_t)."""
        context, weights = self._context(states[0], memory)
        x = ops.concatenate(
            [y_embedded, ops.cast(context, y_embedded.dtype)], axis=-1
        )
        output, new_states = self.decoder_cell(x, list(states))
        return output, list(new_states), context, weights

    def _logits(self, output, context, y_embedded, training=False):
        features = ops.concatenate(
            [output, ops.cast(context, output.dtype), y_embedded], axis=-1
        )
        features = self.readout(features)
        features = self.dropout_layer(features, training=training)
        return ops.cast(self.output_projection(features), "float32")

    def _teacher_forced(self, inputs, training=False):
        source_ids, target_in_ids = self._split_inputs(inputs)
        target_in_ids = ops.cast(target_in_ids, "int32")
        if len(target_in_ids.shape) != 2:
            raise ValueError(
                "`target_in_ids` must have shape (batch, Tt). Received: "
                f"target_in_ids.shape={tuple(target_in_ids.shape)}"
            )
        memory, states = self.encode(source_ids, training=training)
        y = self.target_embedding(target_in_ids)
        y = self.dropout_layer(y, training=training)
        y_time_major = ops.transpose(y, (1, 0, 2))

        batch = ops.shape(y)[0]
        if self.uses_attention:
            weights0 = ops.zeros_like(
                ops.cast(memory["mask"], self.compute_dtype)
            )
        else:
            weights0 = ops.zeros((batch, 1), self.compute_dtype)
        context0 = ops.zeros_like(memory["summary"])

        # The TensorFlow `ops.scan` stacks outputs with the carry's
        # structure, so the carry holds everything that is stacked.
        def step(carry, y_t):
            states = carry[:-2]
            output, new_states, context, weights = self._recurrent_step(
                y_t, states, memory
            )
            if weights is None:
                weights = carry[-1]
            new = (*new_states, ops.cast(context, context0.dtype), weights)
            return new, new

        _, stacked = ops.scan(step, (*states, context0, weights0), y_time_major)
        outputs, contexts, weights = stacked[0], stacked[-2], stacked[-1]
        outputs = ops.transpose(outputs, (1, 0, 2))
        contexts = ops.transpose(contexts, (1, 0, 2))
        weights = ops.transpose(weights, (1, 0, 2))
        logits = self._logits(outputs, contexts, y, training=training)
        return logits, weights

    def call(self, inputs, training=False):
        logits, _ = self._teacher_forced(inputs, training=training)
        return logits

    # On JAX, Keras's `fit` / `evaluate` run the model through
    # `stateless_call`, which calls `call` and never `compute_mask`: the
    # logits reach the loss and metrics without their padding mask. There
    # the mask is applied as sample weights, as Keras applies a mask.
    def _mask_weight(self, x, sample_weight, normalize):
        _, target_in_ids = self._split_inputs(x)
        weight = ops.cast(ops.not_equal(target_in_ids, 0), "float32")
        if normalize:  # a masked mean: the mean over the valid tokens
            total = ops.cast(ops.size(weight), "float32")
            weight = weight * ops.divide_no_nan(total, ops.sum(weight))
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            while len(sample_weight.shape) < len(weight.shape):
                sample_weight = ops.expand_dims(sample_weight, -1)
            weight = weight * sample_weight
        return weight

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if custom_steps.backend() == "jax" and x is not None:
            sample_weight = self._mask_weight(x, sample_weight, True)
        return super().compute_loss(
            x=x,
            y=y,
            y_pred=y_pred,
            sample_weight=sample_weight,
            training=training,
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if custom_steps.backend() == "jax":
            sample_weight = self._mask_weight(x, sample_weight, False)
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def compute_mask(self, inputs, mask=None):
        _, target_in_ids = self._split_inputs(inputs)
        return ops.not_equal(target_in_ids, 0)

    def alignments(self, source_ids, target_in_ids):
        """Attention weights `(batch, Tt, Ts)` of a (decoded) target.

        Feed the decoded tokens prefixed by `start_id` as `target_in_ids`;
        row t is the alignment used to emit token t. Models without
        attention raise `ValueError`.
        """
        if not self.uses_attention:
            raise ValueError(
                f"{type(self).__name__} has no attention. "
                f"Received: model={self.name}"
            )
        if not self.built:
            self.build()
        _, weights = self._teacher_forced(
            (source_ids, target_in_ids), training=False
        )
        return weights

    # ------------------------------------------------------------------
    # Decoding.
    def _step_logits(self, y, states, memory):
        y_embedded = self.target_embedding(y)
        output, states, context, _ = self._recurrent_step(
            y_embedded, states, memory
        )
        logits = self._logits(output, context, y_embedded)
        return logits, states

    def _greedy(self, source_ids, max_length):
        memory, states = self.encode(source_ids)
        return decoding.greedy_search(
            lambda y, states: self._step_logits(y, states, memory),
            states,
            ops.shape(source_ids)[0],
            self.start_id,
            self.end_id,
            max_length,
        )

    def _beam(self, source_ids, max_length, beam_width, length_penalty):
        memory, states = self.encode(source_ids)
        memory = {
            name: decoding.tile_beams(value, beam_width)
            for name, value in memory.items()
        }
        return decoding.beam_search(
            lambda y, states: self._step_logits(y, states, memory),
            states,
            ops.shape(source_ids)[0],
            self.target_vocab_size,
            self.start_id,
            self.end_id,
            max_length,
            beam_width,
            length_penalty,
        )

    def _compiled(self, beam_width=None):
        """One compiled function per decoder kind.

        On TensorFlow a `tf.function` traced once for all shapes: sources
        of any shape, `max_length` and `length_penalty` are tensor
        arguments, so only a new beam width traces again. On JAX a
        `jax.jit` of the weights' values (`custom_steps.jax_jit`), with a
        static `max_length`: a new source shape or `max_length` compiles
        again.
        """
        key = "greedy" if beam_width is None else f"beam{beam_width}"
        if key not in self._decode_functions and (
            custom_steps.backend() == "jax"
        ):
            if beam_width is None:
                fn = custom_steps.jax_jit(self, self._greedy, (1,))
            else:

                def beam(source_ids, max_length, length_penalty):
                    return self._beam(
                        source_ids, max_length, beam_width, length_penalty
                    )

                fn = custom_steps.jax_jit(self, beam, (1,))
            self._decode_functions[key] = fn
        if key not in self._decode_functions:
            import tensorflow as tf

            source = tf.TensorSpec([None, None], tf.int32)
            scalar_int = tf.TensorSpec([], tf.int32)
            if beam_width is None:
                fn = tf.function(
                    self._greedy, input_signature=[source, scalar_int]
                )
            else:

                def beam(source_ids, max_length, length_penalty):
                    return self._beam(
                        source_ids, max_length, beam_width, length_penalty
                    )

                fn = tf.function(
                    beam,
                    input_signature=[
                        source,
                        scalar_int,
                        tf.TensorSpec([], tf.float32),
                    ],
                )
            self._decode_functions[key] = fn
        return self._decode_functions[key]

    def _check_source(self, source_ids, max_length):
        source_ids = ops.convert_to_tensor(source_ids, "int32")
        if len(source_ids.shape) != 2:
            raise ValueError(
                "`source_ids` must have shape (batch, Ts). Received: "
                f"source_ids.shape={tuple(source_ids.shape)}"
            )
        max_length = (
            self.max_output_length if max_length is None else max_length
        )
        return source_ids, _validation.positive_integer(
            "max_length", max_length
        )

    def greedy_decode(self, source_ids, max_length=None, compiled=True):
        """Greedy decoding of a batch, stopping at `end_id`.

        Args:
            source_ids: int `(batch, Ts)`, 0-padded.
            max_length: int, most tokens per sentence (default
                `max_output_length`).
            compiled: run compiled (default) or eagerly.

        Returns:
            int32 `(batch, max_length)`: the tokens including `end_id`,
            0 after it.
        """
        source_ids, max_length = self._check_source(source_ids, max_length)
        if not self.built:
            self.build()
        if not compiled:
            return self._greedy(source_ids, max_length)
        return self._compiled()(source_ids, self._length_argument(max_length))

    def beam_search(
        self,
        source_ids,
        beam_width=4,
        length_penalty=0.6,
        max_length=None,
        compiled=True,
    ):
        """Batched beam search with the GNMT length penalty.

        Hypotheses are ranked by `log p(y|x) / ((5 + |y|) / 6) ** alpha`
        (`alpha = length_penalty`; 0 ranks by log-probability), both when
        the beam is pruned at each step and in the returned order. A
        hypothesis ends at `end_id` (its length counts `end_id`); the
        search stops when all beams of all sentences have ended or at
        `max_length`. `beam_width=1` is greedy decoding.

        Args:
            source_ids: int `(batch, Ts)`, 0-padded.
            beam_width: int, hypotheses kept per sentence.
            length_penalty: float >= 0, the GNMT `alpha`.
            max_length: int, most tokens per hypothesis.
            compiled: run compiled (default) or eagerly.

        Returns:
            `(tokens, scores)`: int32 `(batch, beam_width, max_length)`
            and float32 normalised scores `(batch, beam_width)`, best
            first.
        """
        source_ids, max_length = self._check_source(source_ids, max_length)
        beam_width = _validation.positive_integer("beam_width", beam_width)
        if beam_width > self.target_vocab_size:
            raise ValueError(
                "`beam_width` must be <= target_vocab_size="
                f"{self.target_vocab_size}. Received: beam_width={beam_width}"
            )
        length_penalty = _validation.non_negative_number(
            "length_penalty", length_penalty
        )
        if not self.built:
            self.build()
        if not compiled:
            return self._beam(
                source_ids, max_length, beam_width, length_penalty
            )
        return self._compiled(beam_width)(
            source_ids,
            self._length_argument(max_length),
            ops.convert_to_tensor(length_penalty, "float32"),
        )

    @staticmethod
    def _length_argument(max_length):
        """A tensor for the `tf.function`, the static int for `jax.jit`."""
        if custom_steps.backend() == "jax":
            return int(max_length)
        return ops.convert_to_tensor(max_length, "int32")

    # ------------------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),  # name, trainable, dtype
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "start_id": self.start_id,
            "end_id": self.end_id,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": self.cell,
            "dropout": self.dropout,
            "max_output_length": self.max_output_length,
        }
