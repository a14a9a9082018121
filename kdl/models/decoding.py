"""Batched greedy and beam-search decoding of autoregressive models.

The searches are written with `keras.ops` (`ops.while_loop`), so they run
eagerly or inside a `tf.function`, and stop as soon as every sentence (or
every beam) has produced `end_id`. A model supplies one decoding step:

    step_fn(y, states) -> (logits, new_states)

with `y` the int32 tokens of the previous step `(n,)`, `states` a list of
`(n, size)` tensors and `logits` `(n, vocab_size)`; `n` is the batch size
for `greedy_search` and batch size * beam width for `beam_search`.

Neither search ever produces padding (id 0) or `start_id` before a
sentence ends: their logits are excluded (as NMT decoders exclude them),
so a 0 in the output always is padding after `end_id`, and a score is the
model's log-probability of the tokens returned.
"""

from keras import ops

_NEG = -1e9


def gnmt_length_penalty(lengths, alpha):
    """GNMT length penalty `((5 + length) / 6) ** alpha` (Wu et al. 2016)."""
    lengths = ops.cast(lengths, "float32")
    return ops.power((5.0 + lengths) / 6.0, alpha)


def tile_beams(x, beam_width):
    """Repeats every sentence `beam_width` times: `(b, ...) -> (b * k, ...)`.

    Rows `i * k .. i * k + k - 1` are the beams of sentence `i`, the layout
    `beam_search` uses for the states it passes to `step_fn`.
    """
    return ops.repeat(x, beam_width, axis=0)


def _never(vocab_size, start_id):
    """True at the ids a search never produces: padding and `start_id`."""
    ids = ops.arange(vocab_size, dtype="int32")
    return ops.logical_or(ids == 0, ids == start_id)


def greedy_search(step_fn, states, batch_size, start_id, end_id, max_length):
    """The most probable next token at every step, until `end_id`.

    Args:
        step_fn: `(y, states) -> (logits, states)`, see the module docstring.
        states: the initial decoder states, a list of `(batch, size)`.
        batch_size: the number of sentences (may be a scalar tensor).
        start_id: the token fed at the first step.
        end_id: the token that ends a sentence.
        max_length: the most tokens per sentence (int or scalar tensor).

    Returns:
        int32 `(batch, max_length)`: the tokens including `end_id`, 0 after
        it.
    """
    positions = ops.arange(max_length, dtype="int32")[None, :]

    def cond(t, y, states, finished, tokens):
        return ops.logical_and(
            t < max_length, ops.logical_not(ops.all(finished))
        )

    def body(t, y, states, finished, tokens):
        logits, states = step_fn(y, states)
        never = _never(logits.shape[-1], start_id)
        logits = ops.where(never, _NEG, ops.cast(logits, "float32"))
        token = ops.cast(ops.argmax(logits, axis=-1), "int32")
        token = ops.where(finished, 0, token)
        tokens = ops.where(positions == t, token[:, None], tokens)
        finished = ops.logical_or(finished, token == end_id)
        return t + 1, token, states, finished, tokens

    loop_vars = (
        ops.convert_to_tensor(0, "int32"),
        ops.full((batch_size,), start_id, "int32"),
        states,
        ops.zeros((batch_size,), "bool"),
        ops.zeros((batch_size, max_length), "int32"),
    )
    *_, tokens = ops.while_loop(cond, body, loop_vars)
    return tokens


def beam_search(
    step_fn,
    states,
    batch_size,
    vocab_size,
    start_id,
    end_id,
    max_length,
    beam_width,
    length_penalty,
):
    """Batched beam search ranked with the GNMT length penalty.

    Hypotheses are ranked by `log p(y|x) / gnmt_length_penalty(|y|, alpha)`
    (`alpha = length_penalty`; 0 ranks by log-probability), both when the
    beams are pruned at each step and in the returned order. A hypothesis
    ends at `end_id` (its length counts `end_id`); an ended hypothesis only
    extends with padding (id 0) at no cost. The search stops when all beams
    of all sentences have ended or at `max_length`.

    Args:
        step_fn: `(y, states) -> (logits, states)` on `batch * beam_width`
            rows laid out as `tile_beams` does (tile any memory the step
            reads, e.g. encoder annotations, with `tile_beams` too).
        states: the initial decoder states, a list of `(batch, size)`;
            they are tiled here.
        batch_size: the number of sentences (may be a scalar tensor).
        vocab_size: the size of the logits' last axis (a Python int).
        start_id: the token fed at the first step.
        end_id: the token that ends a hypothesis.
        max_length: the most tokens per hypothesis (int or scalar tensor).
        beam_width: hypotheses kept per sentence (a Python int).
        length_penalty: the GNMT `alpha` (float or scalar tensor).

    Returns:
        `(tokens, scores)`: int32 `(batch, beam_width, max_length)` and
        float32 normalised scores `(batch, beam_width)`, best first.
    """
    k, v, batch = beam_width, vocab_size, batch_size
    states = [tile_beams(s, k) for s in states]
    positions = ops.arange(max_length, dtype="int32")[None, None, :]
    pad_only = ops.where(ops.arange(v) == 0, 0.0, _NEG)
    never = _never(v, start_id)

    def cond(t, y, states, log_probs, lengths, finished, tokens):
        return ops.logical_and(
            t < max_length, ops.logical_not(ops.all(finished))
        )

    def body(t, y, states, log_probs, lengths, finished, tokens):
        logits, states = step_fn(y, states)
        logp = ops.log_softmax(logits, axis=-1)
        logp = ops.reshape(logp, (batch, k, v))
        logp = ops.where(never, _NEG, logp)
        logp = ops.where(finished[..., None], pad_only, logp)
        total = log_probs[..., None] + logp
        new_lengths = lengths + ops.cast(ops.logical_not(finished), "int32")
        normalized = (
            total / gnmt_length_penalty(new_lengths, length_penalty)[..., None]
        )
        _, index = ops.top_k(ops.reshape(normalized, (batch, k * v)), k)
        beam = index // v
        token = ops.cast(index % v, "int32")
        log_probs = ops.take_along_axis(
            ops.reshape(total, (batch, k * v)), index, axis=1
        )
        was_finished = ops.take_along_axis(finished, beam, axis=1)
        lengths = ops.take_along_axis(new_lengths, beam, axis=1)
        tokens = ops.take_along_axis(tokens, beam[..., None], axis=1)
        token = ops.where(was_finished, 0, token)
        tokens = ops.where(positions == t, token[..., None], tokens)
        finished = ops.logical_or(was_finished, token == end_id)
        new_states = []
        for s in states:
            size = s.shape[-1]
            s = ops.reshape(s, (batch, k, size))
            s = ops.take_along_axis(s, beam[..., None], axis=1)
            new_states.append(ops.reshape(s, (batch * k, size)))
        y = ops.reshape(token, (batch * k,))
        return t + 1, y, new_states, log_probs, lengths, finished, tokens

    first = ops.concatenate(
        [ops.zeros((batch, 1)), ops.full((batch, k - 1), _NEG)], axis=1
    )
    loop_vars = (
        ops.convert_to_tensor(0, "int32"),
        ops.full((batch * k,), start_id, "int32"),
        states,
        ops.cast(first, "float32"),
        ops.zeros((batch, k), "int32"),
        ops.zeros((batch, k), "bool"),
        ops.zeros((batch, k, max_length), "int32"),
    )
    _, _, _, log_probs, lengths, _, tokens = ops.while_loop(
        cond, body, loop_vars
    )
    scores = log_probs / gnmt_length_penalty(lengths, length_penalty)
    scores, order = ops.top_k(scores, k)
    tokens = ops.take_along_axis(tokens, order[..., None], axis=1)
    return tokens, scores
