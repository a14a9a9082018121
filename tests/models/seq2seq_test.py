"""The seq2seq model without attention, and the decoding API of both."""

import os

import keras
import numpy as np

from kdl.models.seq2seq import Seq2Seq
from kdl.models.seq2seq_attention import Seq2SeqAttention
from tests.models.seq2seq_testing import END
from tests.models.seq2seq_testing import sequence_scores
from tests.models.seq2seq_testing import small_model
from tests.models.seq2seq_testing import source_batch
from tests.models.seq2seq_testing import target_batch
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import tensorflow_only_for_time


class Seq2SeqTest(TestCase):
    def test_shapes_and_mask(self):
        for cls in (Seq2SeqAttention, Seq2Seq):
            model = small_model(cls)
            target_in, _ = target_batch()
            logits = model((source_batch(), target_in))
            self.assertEqual(tuple(logits.shape), (4, 4, 11))
            self.assertEqual(logits.dtype, "float32")
            mask = model.compute_mask((source_batch(), target_in))
            self.assertAllEqual(mask, target_in != 0)
            # TensorFlow's XLA cannot compile the decoder loop's gradient;
            # JAX's can (jax.lax.scan).
            self.assertEqual(model.supports_jit, backend() == "jax")

    def test_masked_loss_ignores_padding(self):
        model = small_model()
        model.compile(
            "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        target_in, target_out = target_batch()
        garbage = target_out.copy()
        garbage[target_in == 0] = 7
        x = (source_batch(), target_in)
        a = model.evaluate(x, target_out, verbose=0)
        b = model.evaluate(x, garbage, verbose=0)
        self.assertAllClose(a, b, atol=1e-6)

    def test_padding_does_not_change_decodes(self):
        model = small_model()
        source = source_batch()
        padded = np.concatenate([source, np.zeros((4, 3), "int32")], axis=1)
        self.assertAllEqual(
            model.greedy_decode(source), model.greedy_decode(padded)
        )
        a, sa = model.beam_search(source, beam_width=3)
        b, sb = model.beam_search(padded, beam_width=3)
        self.assertAllEqual(a, b)
        self.assertAllClose(sa, sb, atol=1e-5)

    @tensorflow_only_for_time("the decoding algorithm is keras.ops")
    def test_beam_width_one_is_greedy(self):
        for cls, cell in ((Seq2SeqAttention, "gru"), (Seq2Seq, "lstm")):
            model = small_model(cls, cell=cell)
            greedy = np.array(model.greedy_decode(source_batch()))
            for alpha in (0.0, 0.6):
                tokens, _ = model.beam_search(
                    source_batch(), beam_width=1, length_penalty=alpha
                )
                self.assertAllEqual(np.array(tokens)[:, 0], greedy)

    def test_greedy_stops_at_end(self):
        model = small_model()
        model.build()
        # Make END the most likely token everywhere.
        bias = model.output_projection.bias
        bias.assign(np.where(np.arange(11) == END, 50.0, 0.0))
        tokens = np.array(model.greedy_decode(source_batch(), max_length=6))
        expected = np.zeros((4, 6), "int32")
        expected[:, 0] = END
        self.assertAllEqual(tokens, expected)
        beams, _ = model.beam_search(source_batch(), 2, max_length=6)
        self.assertAllEqual(np.array(beams)[:, 0], expected)

    def test_beam_search_sorted_by_normalized_score(self):
        model = small_model(max_output_length=6)
        # Sharpen the random model so hypotheses end at different lengths.
        model.build()
        kernel = model.output_projection.kernel
        kernel.assign(np.array(kernel) * 8.0)
        for alpha in (0.0, 1.0):
            tokens, scores = model.beam_search(
                source_batch(), beam_width=4, length_penalty=alpha
            )
            tokens, scores = np.array(tokens), np.array(scores)
            self.assertEqual(tokens.shape, (4, 4, 6))
            self.assertTrue(np.all(np.diff(scores, axis=1) <= 1e-6))
            # Every sentence's 4 hypotheses rescored by teacher forcing.
            ref = sequence_scores(
                model,
                source_batch().repeat(4, axis=0),
                tokens.reshape(16, 6),
                alpha,
            )
            self.assertAllClose(scores, ref.reshape(4, 4), atol=1e-4, rtol=1e-4)
            # Tokens after END are padding.
            for hyp in tokens.reshape(-1, 6):
                hyp = list(hyp)
                if END in hyp:
                    self.assertEqual(sum(hyp[hyp.index(END) + 1 :]), 0)

    @tensorflow_only_for_time("the decoding algorithm is keras.ops")
    def test_beam_not_worse_than_greedy_without_penalty(self):
        model = small_model(max_output_length=6)
        greedy = np.array(model.greedy_decode(source_batch()))
        _, scores = model.beam_search(
            source_batch(), beam_width=5, length_penalty=0.0
        )
        ref = sequence_scores(model, source_batch(), greedy, 0.0)
        self.assertTrue(np.all(np.array(scores)[:, 0] >= ref - 1e-4))

    def test_compiled_equals_eager(self):
        model = small_model()
        self.assertAllEqual(
            model.greedy_decode(source_batch()),
            model.greedy_decode(source_batch(), compiled=False),
        )
        a, _ = model.beam_search(source_batch(), 3)
        b, _ = model.beam_search(source_batch(), 3, compiled=False)
        self.assertAllEqual(a, b)

    def test_keras_round_trip(self):
        for cls, cell in ((Seq2SeqAttention, "lstm"), (Seq2Seq, "gru")):
            # The config keeps the dtype policy (mixed precision).
            config = small_model(cls, dtype="mixed_float16").get_config()
            reloaded = cls.from_config(config)
            self.assertEqual(reloaded.dtype_policy.name, "mixed_float16")
            model = small_model(cls, cell=cell, dropout=0.1)
            target_in, target_out = target_batch()
            model.compile(
                "adam",
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            # Built by a call: fit, save, load, fit is
            # optimizer_state_round_trip_test.py's.
            model((source_batch(), target_in))
            path = os.path.join(self.get_temp_dir(), "model.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
            self.assertIsInstance(loaded, cls)
            self.assertEqual(loaded.get_config(), model.get_config())
            self.assertAllClose(
                loaded((source_batch(), target_in)),
                model((source_batch(), target_in)),
            )
            self.assertAllEqual(
                loaded.greedy_decode(source_batch()),
                model.greedy_decode(source_batch()),
            )
            if cls is Seq2SeqAttention:  # beam search reads the same weights
                a, sa = loaded.beam_search(source_batch(), 3)
                b, sb = model.beam_search(source_batch(), 3)
                self.assertAllEqual(a, b)
                self.assertAllClose(sa, sb, atol=1e-6)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "cell"):
            small_model(cell="rnn")
        with self.assertRaisesRegex(ValueError, "start_id"):
            small_model(start_id=11)
        with self.assertRaisesRegex(ValueError, "end_id"):
            small_model(end_id=1)
        with self.assertRaisesRegex(ValueError, "units"):
            small_model(units=0)
        with self.assertRaisesRegex(ValueError, "dropout"):
            small_model(dropout=1.0)
        model = small_model()
        with self.assertRaisesRegex(ValueError, "beam_width"):
            model.beam_search(source_batch(), beam_width=0)
        with self.assertRaisesRegex(ValueError, "beam_width"):
            model.beam_search(source_batch(), beam_width=12)
        with self.assertRaisesRegex(ValueError, "length_penalty"):
            model.beam_search(source_batch(), length_penalty=-1.0)
        with self.assertRaisesRegex(ValueError, "max_length"):
            model.greedy_decode(source_batch(), max_length=0)
        with self.assertRaisesRegex(ValueError, "source_ids"):
            model.greedy_decode(source_batch()[0])
        with self.assertRaisesRegex(ValueError, "target_in_ids"):
            model(source_batch())
