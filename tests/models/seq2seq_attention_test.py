"""The seq2seq model with Bahdanau attention."""

import keras
import numpy as np
import pytest

from kdl.models.seq2seq import Seq2Seq
from tests.models.seq2seq_testing import END
from tests.models.seq2seq_testing import START
from tests.models.seq2seq_testing import small_model
from tests.models.seq2seq_testing import source_batch
from tests.models.seq2seq_testing import target_batch
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import jit
from tests.test_case import jit_call
from tests.test_case import skip_unless_tensorflow
from tests.test_case import tensorflow_only_for_time
from tests.test_case import two_replica_strategy


class Seq2SeqAttentionTest(TestCase):
    def test_alignments(self):
        model = small_model()
        target_in, _ = target_batch()
        weights = np.array(model.alignments(source_batch(), target_in))
        self.assertEqual(weights.shape, (4, 4, 5))
        self.assertAllClose(weights.sum(-1), np.ones((4, 4)), atol=1e-5)
        pad = np.broadcast_to((source_batch() == 0)[:, None], weights.shape)
        self.assertTrue(np.all(weights[pad] == 0.0))
        with self.assertRaisesRegex(ValueError, "no attention"):
            small_model(Seq2Seq).alignments(source_batch(), target_in)

    def test_bahdanau_order(self):
        # Row t of the alignment comes from s_{t-1}, which has read
        # y_0..y_{t-1}: changing y_t must leave rows 0..t unchanged.
        model = small_model()
        model.build()
        for w in (model.attention.query_kernel, model.attention.score_kernel):
            w.assign(np.array(w) * 10.0)
        target_in, _ = target_batch()
        ref = np.array(model.alignments(source_batch(), target_in))
        changed = target_in.copy()
        changed[:, 2] = 10
        got = np.array(model.alignments(source_batch(), changed))
        self.assertAllClose(got[:, :3], ref[:, :3], atol=1e-6)
        self.assertFalse(np.allclose(got[:, 3], ref[:, 3], atol=1e-4))

    def test_mixed_precision(self):
        for policy in ("mixed_float16", "mixed_bfloat16"):
            keras.config.set_dtype_policy(policy)
            model = small_model(normalize_attention=True)
            model.build()
            source = source_batch()
            target_in, target_out = target_batch()
            if backend() == "jax":  # one program per policy, not one per op
                logits = jit_call(model, (source, target_in))
                weights = jit(model.alignments)(source, target_in)
            else:
                logits = model((source, target_in))
                weights = model.alignments(source, target_in)
            self.assertEqual(logits.dtype, "float32")
            for w in model.weights:
                self.assertEqual(w.dtype, "float32", w.path)
            weights = np.array(weights, "float32")
            self.assertAllClose(weights.sum(-1), np.ones((4, 4)), atol=2e-2)
            if policy == "mixed_float16":  # the narrower range
                tokens, _ = model.beam_search(source_batch(), 2)
                self.assertEqual(tuple(tokens.shape), (4, 2, 9))
                model.compile(
                    "adam",
                    keras.losses.SparseCategoricalCrossentropy(
                        from_logits=True
                    ),
                )
                history = model.fit(
                    (source_batch(), target_in), target_out, verbose=0
                )
                self.assertTrue(np.isfinite(history.history["loss"][0]))
            keras.config.set_dtype_policy("float32")

    @skip_unless_tensorflow("tf.distribute.MirroredStrategy")
    def test_mirrored_strategy(self):
        strategy = two_replica_strategy()
        target_in, target_out = target_batch()
        with strategy.scope():
            model = small_model()
            model.compile(
                "adam",
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            model.build()
        before = np.array(model.attention.query_kernel)
        history = model.fit(
            (source_batch(), target_in), target_out, batch_size=4, verbose=0
        )
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        self.assertFalse(
            np.array_equal(before, np.array(model.attention.query_kernel))
        )
        tokens = model.greedy_decode(source_batch())
        self.assertEqual(tuple(tokens.shape), (4, 9))

    def test_attention_errors(self):
        with self.assertRaisesRegex(ValueError, "attention_units"):
            small_model(attention_units=-3)


@pytest.mark.slow
class Seq2SeqLearningTest(TestCase):
    @tensorflow_only_for_time("training to a threshold; keras.ops model")
    def test_learns_to_reverse(self):
        rng = np.random.RandomState(0)
        n, length = 1500, 6
        source = np.zeros((n, length), "int32")
        target_in = np.zeros((n, length + 1), "int32")
        target_out = np.zeros((n, length + 1), "int32")
        for i in range(n):
            size = rng.randint(2, length + 1)
            words = rng.randint(3, 13, size=size)
            source[i, :size] = words
            target_in[i, 0] = START
            target_in[i, 1 : size + 1] = words[::-1]
            target_out[i, :size] = words[::-1]
            target_out[i, size] = END
        model = small_model(
            source_vocab_size=13,
            target_vocab_size=13,
            units=48,
            embedding_dim=24,
        )
        model.compile(
            keras.optimizers.Adam(5e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(
            (source, target_in), target_out, batch_size=64, epochs=6, verbose=0
        )
        tokens = np.array(model.greedy_decode(source[:200], max_length=7))
        exact = np.mean(
            [np.array_equal(tokens[i], target_out[i]) for i in range(200)]
        )
        self.assertGreater(exact, 0.9)
