"""Small models and batches shared by the seq2seq model tests."""

import numpy as np

from kdl.models.seq2seq_attention import Seq2SeqAttention

START, END = 1, 2


def small_model(cls=Seq2SeqAttention, **kwargs):
    config = dict(
        source_vocab_size=13,
        target_vocab_size=11,
        start_id=START,
        end_id=END,
        embedding_dim=8,
        units=12,
        max_output_length=9,
    )
    config.update(kwargs)
    return cls(**config)


def source_batch():
    return np.array(
        [[3, 4, 5, 6, 0], [7, 8, 0, 0, 0], [9, 10, 11, 12, 3], [5, 0, 0, 0, 0]],
        "int32",
    )


def target_batch():
    target_in = np.array(
        [[1, 3, 4, 5], [1, 6, 0, 0], [1, 7, 8, 9], [1, 0, 0, 0]], "int32"
    )
    target_out = np.array(
        [[3, 4, 5, 2], [6, 2, 0, 0], [7, 8, 9, 2], [2, 0, 0, 0]], "int32"
    )
    return target_in, target_out


def sequence_scores(model, source, tokens, length_penalty):
    """log p(tokens | source) / GNMT penalty, by teacher forcing.

    All hypotheses in one call (one compilation on JAX): each is padded
    after its end, which changes none of its logits (the decoder reads the
    target left to right).
    """
    hyps = []
    for hyp in tokens:
        hyp = list(hyp)
        hyps.append(hyp[: hyp.index(END) + 1] if END in hyp else hyp)
    target_in = np.zeros((len(hyps), max(map(len, hyps))), "int32")
    for row, hyp in enumerate(hyps):
        target_in[row, : len(hyp)] = [START] + hyp[:-1]
    logits = np.array(model((np.asarray(source), target_in)), "float64")
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    scores = []
    for row, hyp in enumerate(hyps):
        total = sum(logp[row, t, token] for t, token in enumerate(hyp))
        scores.append(total / ((5.0 + len(hyp)) / 6.0) ** length_penalty)
    return np.array(scores)
