"""Build, decode and score translation models (`Seq2Seq`, `Seq2SeqAttention`).

The text side goes through a `kdl.datasets.TranslationVectorizers` (any
object with its `encode_source`, `source`, `target`, `target_vocabulary`,
`source_vocabulary` and `pad_id` / `start_id` / `end_id`). Scores are
sacrebleu corpus BLEU on lower-cased, tokenised text: hypotheses are the
decoded target tokens joined by spaces, references are standardised like
the target vectorizer's input (punctuation split off as tokens).
"""

import time

import keras
import numpy as np
import sacrebleu

from kdl import _validation
from kdl.datasets.translation import reverse_source_ids
from kdl.models.seq2seq import Seq2Seq
from kdl.models.seq2seq_attention import Seq2SeqAttention


def masked_loss():
    """Token cross-entropy; the model's output mask drops the padding."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compile_translation_model(model, learning_rate, clipnorm=1.0):
    """Adam with gradient clipping, masked loss and token accuracy.

    `jit_compile="auto"`: on TensorFlow the model declines XLA (it cannot
    compile the gradient of the decoder's `ops.scan`, TensorArray
    accumulators captured by the while loop), so the step runs as a graph;
    on JAX it is XLA-compiled (`jax.lax.scan`).
    """
    model.compile(
        jit_compile="auto",
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm),
        loss=masked_loss(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def build_translation_model(
    source_vocab_size,
    target_vocab_size,
    start_id,
    end_id,
    attention=True,
    embedding_dim=128,
    units=128,
    attention_units=128,
    cell="gru",
    dropout=0.0,
    learning_rate=2e-3,
    max_output_length=100,
    name=None,
):
    """A built and compiled `Seq2SeqAttention` (or `Seq2Seq` baseline).

    Args:
        source_vocab_size, target_vocab_size, start_id, end_id: the data.
        attention: True for RNNsearch (`Seq2SeqAttention`), False for the
            RNNencdec baseline (`Seq2Seq`, same network without attention).
        embedding_dim, units, cell, dropout, max_output_length: the
            `Seq2Seq` arguments; `attention_units` the attention MLP size.
        learning_rate: Adam's (see `compile_translation_model`).
        name: the model name (default "attention" / "no_attention").

    Returns:
        The model, built (so `BackupAndRestore` can restore weights before
        the first `fit` step) and compiled.
    """
    common = dict(
        source_vocab_size=source_vocab_size,
        target_vocab_size=target_vocab_size,
        start_id=start_id,
        end_id=end_id,
        embedding_dim=embedding_dim,
        units=units,
        cell=cell,
        dropout=dropout,
        max_output_length=max_output_length,
        name=name or ("attention" if attention else "no_attention"),
    )
    if attention:
        model = Seq2SeqAttention(attention_units=attention_units, **common)
    else:
        model = Seq2Seq(**common)
    model.build()
    return compile_translation_model(model, learning_rate)


def source_lengths(vectorizers, sources):
    """Source lengths in tokens, int32 `(len(sources),)`."""
    rows = vectorizers.source(list(sources)).to_list()
    return np.array([len(r) for r in rows], "int32")


def target_tokens(vectorizers, ids):
    """Decoded ids -> space-joined target tokens, stopping at `end_id`."""
    vocab = vectorizers.target_vocabulary
    skip = (vectorizers.pad_id, vectorizers.start_id)
    out = []
    for row in ids:
        words = []
        for i in np.asarray(row).tolist():
            if i == vectorizers.end_id:
                break
            if i not in skip:
                words.append(vocab[i])
        out.append(" ".join(words))
    return out


def reference_tokens(vectorizers, texts):
    """References standardised like the target side (what the model emits).

    Uses the target vectorizer's own `standardize` callable (from its
    config), so references and hypotheses are tokenised alike.
    """
    standardize = vectorizers.target.get_config()["standardize"]
    if not callable(standardize):
        raise ValueError(
            "The target vectorizer needs a callable `standardize`. "
            f"Received: standardize={standardize!r}"
        )
    return [
        keras.ops.convert_to_numpy(standardize(t)).item().decode("utf-8")
        for t in texts
    ]


def translate(
    model,
    vectorizers,
    sources,
    beam_width=1,
    length_penalty=0.6,
    batch_size=None,
    reverse_source=False,
):
    """Translates `sources` in length-sorted batches; tokens in input order.

    Args:
        model: a `Seq2Seq` / `Seq2SeqAttention`.
        vectorizers: the corpus' `TranslationVectorizers`.
        sources: source strings.
        beam_width: 1 is greedy decoding, else `model.beam_search`'s best
            hypothesis.
        length_penalty: the GNMT alpha of beam search.
        batch_size: sentences per decode call (default 128, 64 for beams
            wider than 4).
        reverse_source: feed the sources reversed (a model trained with
            `translation_dataset(..., reverse_source=True)`).

    Returns:
        A list of space-joined target token strings (see `target_tokens`),
        decoded up to `2 * source length + 10` tokens.
    """
    sources = list(sources)
    batch_size = batch_size or (128 if beam_width <= 4 else 64)
    order = np.argsort(source_lengths(vectorizers, sources), kind="stable")
    results = [None] * len(sources)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        src = vectorizers.encode_source([sources[i] for i in idx])
        if reverse_source:
            src = reverse_source_ids(src, vectorizers.pad_id)
        max_length = int(2 * src.shape[1] + 10)
        if beam_width == 1:
            tokens = model.greedy_decode(src, max_length=max_length)
        else:
            tokens, _ = model.beam_search(
                src,
                beam_width=beam_width,
                length_penalty=length_penalty,
                max_length=max_length,
            )
            tokens = tokens[:, 0]
        for i, text in zip(idx, target_tokens(vectorizers, tokens)):
            results[i] = text
    return results


def corpus_bleu(hypotheses, references):
    """sacrebleu corpus BLEU (0-100); NaN when there is no sentence."""
    if not hypotheses:
        return float("nan")
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def score_translations(hypotheses, references, lengths, bins):
    """BLEU, exact match and BLEU by source length of tokenised outputs.

    Args:
        hypotheses, references: token strings (see `translate`,
            `reference_tokens`).
        lengths: the source length of each sentence.
        bins: increasing upper edges of the source-length bins, e.g.
            `[10, 20, 30, 40]` -> bins "1-10", "11-20", ...

    Returns:
        `{"bleu", "exact_match", "bleu_by_source_length": {bin: {"bleu",
        "sentences"}}}`; an empty bin has BLEU NaN.
    """
    if len(hypotheses) != len(references) or len(lengths) != len(references):
        raise ValueError(
            "`hypotheses`, `references` and `lengths` must have one entry "
            f"per sentence. Received: {len(hypotheses)}, {len(references)}, "
            f"{len(lengths)}"
        )
    bins = _validation.integer_list("bins", list(bins))
    if bins != sorted(set(bins)):
        raise ValueError(
            f"`bins` must be increasing upper edges. Received: bins={bins}"
        )
    by_length = {}
    low = 0
    for high in bins:
        sel = [i for i, n in enumerate(lengths) if low < n <= high]
        by_length[f"{low + 1}-{high}"] = {
            "bleu": corpus_bleu(
                [hypotheses[i] for i in sel], [references[i] for i in sel]
            ),
            "sentences": len(sel),
        }
        low = high
    matches = [h == r for h, r in zip(hypotheses, references)]
    return {
        "bleu": corpus_bleu(hypotheses, references),
        "exact_match": float(np.mean(matches)) if matches else float("nan"),
        "bleu_by_source_length": by_length,
    }


def evaluate_translation(
    model,
    vectorizers,
    sources,
    references,
    bins,
    beam_widths=(4,),
    length_penalty=0.6,
    examples=3,
    reverse_source=False,
):
    """Greedy and beam-search scores of `model` on test sentences.

    Args:
        model: a `Seq2Seq` / `Seq2SeqAttention`.
        vectorizers: the corpus' `TranslationVectorizers`.
        sources: source strings.
        references: their tokenised references (`reference_tokens`).
        bins: upper edges of the source-length bins (`score_translations`).
        beam_widths: beam widths decoded besides greedy.
        length_penalty: the GNMT alpha of beam search.
        examples: (source, reference, output) triples kept per decoder.
        reverse_source: feed the sources reversed (see `translate`).

    Returns:
        `{"greedy": scores, "beam4": scores, ...}`; each `scores` is
        `score_translations`'s dict plus `decode_seconds`,
        `sentences_per_second` and `examples`.
    """
    lengths = source_lengths(vectorizers, sources)
    widths = {"greedy": 1, **{f"beam{int(w)}": int(w) for w in beam_widths}}
    out = {}
    for name, width in widths.items():
        start = time.perf_counter()
        hyps = translate(
            model,
            vectorizers,
            sources,
            width,
            length_penalty,
            reverse_source=reverse_source,
        )
        seconds = time.perf_counter() - start
        triples = list(zip(sources, references, hyps))[:examples]
        out[name] = {
            **score_translations(hyps, references, lengths, bins),
            "decode_seconds": seconds,
            "sentences_per_second": len(hyps) / max(seconds, 1e-9),
            "examples": [
                {"source": s, "reference": r, "output": h}
                for s, r, h in triples
            ],
        }
    return out


def translation_alignment(model, vectorizers, source):
    """Greedy translation of one sentence and its attention weights.

    Returns:
        `(weights, source_words, output_words)`: weights `(len(output),
        len(source))`, row t the alignment used to emit output word t (the
        last output is `[end]` when the decoder stopped).
    """
    src = vectorizers.encode_source([source])
    tokens = np.asarray(model.greedy_decode(src, 2 * src.shape[1] + 10))[0]
    output = []
    for t in tokens.tolist():
        output.append(t)
        if t in (vectorizers.end_id, vectorizers.pad_id):
            break
    target_in = np.array([[vectorizers.start_id] + output[:-1]], "int32")
    weights = np.asarray(model.alignments(src, target_in))[0]
    source_words = [
        vectorizers.source_vocabulary[t] for t in np.asarray(src)[0]
    ]
    output_words = [vectorizers.target_vocabulary[t] for t in output]
    return weights, source_words, output_words


def translation_alignments(model, vectorizers, sources, count=4, min_length=5):
    """Alignments of `count` sentences spread over the longer two thirds.

    Sentences of at least `min_length` source tokens are sorted by length;
    the shortest third is skipped and `count` are taken at even steps from
    the rest (the heatmaps of Bahdanau et al.'s figure 3).

    Returns:
        A list of `(sentence, weights, source_words, output_words)` (see
        `translation_alignment`).
    """
    lengths = source_lengths(vectorizers, sources)
    order = [i for i in np.argsort(lengths, kind="stable")]
    order = [i for i in order if lengths[i] >= min_length]
    step = max(1, len(order) // (3 * max(1, int(count))))
    picks = order[len(order) // 3 :][::step][: int(count)]
    return [
        (sources[i], *translation_alignment(model, vectorizers, sources[i]))
        for i in picks
    ]
