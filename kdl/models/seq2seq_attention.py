"""The RNN encoder-decoder with Bahdanau attention (Bahdanau et al. 2015)."""

import keras

from kdl import _validation
from kdl.layers.bahdanau_attention import BahdanauAttention
from kdl.models.seq2seq import Seq2Seq


@keras.saving.register_keras_serializable(package="kdl")
class Seq2SeqAttention(Seq2Seq):
    """Bidirectional RNN encoder + Bahdanau attention decoder (RNNsearch).

    The encoder annotations `h_k = [fwd_k; bwd_k]` come from a bidirectional
    GRU (or LSTM) over the embedded source. The decoder follows Bahdanau's
    order: at step t the attention reads the previous state `s_{t-1}`,
    `c_t = sum_k alpha_tk h_k` with
    `alpha_tk = softmax_k(v^T tanh(W_a s_{t-1} + U_a h_k))`
    (`kdl.layers.BahdanauAttention`; `U_a h_k` is computed once per
    source), then the RNN step reads `[y_{t-1}; c_t]`, and the output layer
    sees `[s_t; c_t; y_{t-1}]`. The initial state is
    `s_0 = tanh(W_s [fwd_T; bwd_1])`. Padded source positions get exactly
    zero attention.

    Training is teacher-forced and masked (see `Seq2Seq`); `greedy_decode`
    and `beam_search` run batched in a `tf.function` and stop at `end_id`;
    `alignments(source_ids, target_in_ids)` returns the attention matrix
    of a (decoded) sentence.

    Args:
        source_vocab_size, target_vocab_size, start_id, end_id,
        embedding_dim, units, cell, dropout, max_output_length: as in
            `Seq2Seq`.
        attention_units: int, units of the attention MLP (default `units`).
        normalize_attention: bool, weight-normalised attention.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: a tuple `(source_ids, target_in_ids)`, 0-padded ints.
        training: bool, enables dropout.

    Returns:
        float32 logits `(batch, Tt, target_vocab_size)`; the output mask is
        `target_in_ids != 0`.

    Example:

    >>> model = kdl.models.Seq2SeqAttention(
    ...     source_vocab_size=5000, target_vocab_size=6000,
    ...     start_id=2, end_id=3, units=256)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
    ...     from_logits=True))
    >>> model.fit(train_ds, epochs=10)   # ((src, tgt_in), tgt_out) batches
    >>> tokens, scores = model.beam_search(source_ids, beam_width=4)
    >>> weights = model.alignments(source_ids, target_in_ids)

    Reference:
        Bahdanau, Cho, Bengio, "Neural Machine Translation by Jointly
        Learning to Align and Translate", ICLR 2015 (arXiv:1409.0473);
        Wu et al. 2016 (GNMT length penalty).
    """

    uses_attention = True

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
        attention_units=None,
        normalize_attention=False,
        **kwargs,
    ):
        super().__init__(
            source_vocab_size,
            target_vocab_size,
            start_id,
            end_id,
            embedding_dim=embedding_dim,
            units=units,
            cell=cell,
            dropout=dropout,
            max_output_length=max_output_length,
            **kwargs,
        )
        self.attention_units = _validation.positive_integer(
            "attention_units", attention_units, allow_none=True
        )
        self.normalize_attention = _validation.boolean(
            "normalize_attention", normalize_attention
        )
        self.attention = BahdanauAttention(
            self.attention_units or self.units,
            normalize=self.normalize_attention,
            name="attention",
        )

    def _build_context(self, state_shape, annotations_shape):
        self.attention.build([state_shape, annotations_shape])

    def _prepare_memory(self, memory):
        memory["processed_key"] = self.attention.process_key(
            memory["annotations"]
        )

    def _context(self, state, memory):
        return self.attention(
            [state, memory["annotations"]],
            mask=[None, memory["mask"]],
            processed_key=memory["processed_key"],
            return_attention_scores=True,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "attention_units": self.attention_units,
            "normalize_attention": self.normalize_attention,
        }
