"""Greedy and beam search on a fixed bigram model, and the GNMT penalty."""

import numpy as np
import tensorflow as tf
from keras import ops

from kdl.models import decoding
from tests.test_case import TestCase
from tests.test_case import backend

START, END = 1, 2

# p(next | previous) over 5 tokens (0 = padding): from [start], token 3 is
# the most likely (0.6) but its continuations are spread out, while token 4
# (0.4) is always followed by [end]. Greedy reads [3, end] (p = 0.204); the
# best sentence is [4, end] (p = 0.4).
BIGRAM = np.array(
    [
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.6, 0.4],
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.34, 0.33, 0.33],
        [0.0, 0.0, 1.0, 0.0, 0.0],
    ]
)


def bigram_step(y, states):
    logits = ops.take(np.log(BIGRAM + 1e-9).astype("float32"), y, axis=0)
    return logits, states


def initial_states(batch):
    return [ops.zeros((batch, 1))]


class DecodingTest(TestCase):
    def test_gnmt_length_penalty(self):
        got = decoding.gnmt_length_penalty(np.array([1, 7]), 0.6)
        self.assertAllClose(got, np.array([1.0, 2.0**0.6]))
        self.assertAllClose(
            decoding.gnmt_length_penalty(np.array([3]), 0.0), np.ones(1)
        )

    def test_tile_beams(self):
        x = np.array([[1.0], [2.0]])
        self.assertAllClose(
            decoding.tile_beams(x, 3), np.array([[1.0]] * 3 + [[2.0]] * 3)
        )

    def test_greedy_search(self):
        tokens = decoding.greedy_search(
            bigram_step, initial_states(2), 2, START, END, max_length=4
        )
        self.assertAllEqual(tokens, [[3, 2, 0, 0], [3, 2, 0, 0]])

    def test_beam_search_finds_the_better_sentence(self):
        tokens, scores = decoding.beam_search(
            bigram_step,
            initial_states(2),
            2,
            vocab_size=5,
            start_id=START,
            end_id=END,
            max_length=4,
            beam_width=2,
            length_penalty=0.0,
        )
        self.assertAllEqual(tokens[:, 0], [[4, 2, 0, 0]] * 2)
        self.assertAllEqual(tokens[:, 1], [[3, 2, 0, 0]] * 2)
        self.assertAllClose(scores, np.log([[0.4, 0.204]] * 2), atol=1e-5)

    def test_beam_width_one_is_greedy_and_runs_compiled(self):
        def search(max_length):
            return decoding.beam_search(
                bigram_step,
                initial_states(1),
                1,
                5,
                START,
                END,
                max_length,
                beam_width=1,
                length_penalty=0.6,
            )

        if backend() == "tensorflow":
            # A tensor max_length: one trace serves every length.
            tokens, _ = tf.function(search)(tf.constant(3))
        else:
            import jax

            tokens, _ = jax.jit(search, static_argnums=0)(3)
        self.assertAllEqual(tokens, [[[3, 2, 0]]])

    def test_padding_and_start_are_never_decoded(self):
        # The model prefers padding (0) and START to every real token;
        # neither is ever produced before END (a 0 in the output is only
        # padding after END), and a score stays the log-probability of
        # the tokens returned.
        prefers_pad = np.array(
            [
                [1.0, 0.0, 0.0, 0.0, 0.0],
                [0.5, 0.3, 0.04, 0.1, 0.06],
                [1.0, 0.0, 0.0, 0.0, 0.0],
                [0.4, 0.3, 0.2, 0.1, 0.0],
                [0.5, 0.3, 0.15, 0.05, 0.0],
            ]
        )
        log_p = np.log(prefers_pad + 1e-9).astype("float32")

        def step(y, states):
            return ops.take(log_p, y, axis=0), states

        greedy = decoding.greedy_search(
            step, initial_states(1), 1, START, END, max_length=4
        )
        self.assertAllEqual(greedy, [[3, 2, 0, 0]])
        tokens, scores = decoding.beam_search(
            step, initial_states(1), 1, 5, START, END, 4, 3, 0.0
        )
        tokens = np.asarray(tokens)[0]
        # [END] alone (p = 0.04) beats [3, END] (p = 0.02) without a
        # length penalty.
        self.assertAllEqual(tokens[:2], [[2, 0, 0, 0], [3, 2, 0, 0]])
        for beam, score in zip(tokens, np.asarray(scores)[0]):
            length = list(beam).index(END) + 1 if END in beam else len(beam)
            self.assertNotIn(0, beam[:length])
            self.assertNotIn(START, beam)
            previous = [START, *beam[: length - 1]]
            want = sum(log_p[a, b] for a, b in zip(previous, beam[:length]))
            self.assertAllClose(score, want, atol=1e-5)
