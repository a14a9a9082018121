import keras
import numpy as np

from kdl.datasets import tbptt_dataset
from kdl.models import ResetStatesCallback
from kdl.models import RNNLanguageModel
from kdl.models import evaluate_perplexity
from kdl.models.language_model import perplexity
from tests.test_case import TestCase
from tests.test_case import two_replica_strategy


def _compile(model, lr=1e-2):
    model.compile(
        keras.optimizers.Adam(lr, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


class RNNLanguageModelTest(TestCase):
    def test_shapes_and_parameter_counts(self):
        x = np.zeros((2, 5), "int32")
        v, e, u, c = 30, 6, 8, 3
        want = {
            "srn": v * e + e * u + u * u + u + u * v + v,
            "lstm": v * e + 4 * (e * u + u * u + u) + u * v + v,
            "scrn": v * e + e * u + e * c + c * u + u * u + (u + c) * v + v,
        }
        for rnn, count in want.items():
            model = RNNLanguageModel(v, rnn, u, c, embedding_dim=e)
            out = model(x)
            self.assertEqual(tuple(out.shape), (2, 5, v))
            self.assertEqual(
                keras.backend.standardize_dtype(out.dtype), "float32"
            )
            self.assertEqual(model.count_params(), count, rnn)

    def test_stateful_halves_equal_whole(self):
        x = np.random.RandomState(0).randint(0, 20, (2, 8)).astype("int32")
        for rnn in ("srn", "lstm", "scrn"):
            whole = RNNLanguageModel(20, rnn, 6, 3)
            want = np.asarray(whole(x))
            halves = RNNLanguageModel(
                20, rnn, 6, 3, stateful=True, batch_size=2
            )
            halves.build((2, 4))
            halves.set_weights(whole.get_weights())
            got = np.concatenate([halves(x[:, :4]), halves(x[:, 4:])], 1)
            self.assertAllClose(got, want, atol=1e-5)
            halves.reset_rnn_states()
            self.assertAllClose(halves(x[:, :4]), want[:, :4], atol=1e-5)

    def test_learns_and_perplexity_is_exp_loss(self):
        # A cyclic stream is perfectly predictable: perplexity -> 1.
        ids = np.tile(np.arange(7, dtype="int32"), 200)
        ds = tbptt_dataset(ids, 4, 10)
        model = _compile(
            RNNLanguageModel(7, "scrn", 16, 4, stateful=True, batch_size=4),
            lr=3e-2,
        )
        before = evaluate_perplexity(model, ds)
        history = model.fit(
            ds, epochs=3, verbose=0, callbacks=[ResetStatesCallback()]
        )
        after = evaluate_perplexity(model, ds)
        self.assertGreater(before, 4.0)
        self.assertLess(after, 1.5)
        loss = model.evaluate(ds, verbose=0, callbacks=[ResetStatesCallback()])
        self.assertAlmostEqual(after, float(np.exp(loss)), places=4)
        self.assertLess(history.history["loss"][-1], 0.5)
        # The manual token mean equals evaluate's batch mean.
        total, count = 0.0, 0
        model.reset_rnn_states()
        for xb, yb in ds:
            p = keras.ops.softmax(model(xb))
            p = np.take_along_axis(np.asarray(p), np.asarray(yb)[..., None], -1)
            total -= np.log(p).sum()
            count += p.size
        self.assertAlmostEqual(after, np.exp(total / count), places=3)

    def test_generate(self):
        model = RNNLanguageModel(12, "scrn", 8, 3, stateful=True, batch_size=2)
        model.build((2, 5))
        a = model.generate([1, 2, 3], 10, temperature=0)
        b = model.generate([1, 2, 3], 10, temperature=0)
        self.assertEqual(a.shape, (13,))
        self.assertAllEqual(a, b)
        self.assertAllEqual(a[:3], [1, 2, 3])
        c = model.generate([1], 50, temperature=1.0, seed=0)
        d = model.generate([1], 50, temperature=1.0, seed=0)
        self.assertAllEqual(c, d)
        self.assertTrue(np.all((c >= 0) & (c < 12)))
        # Greedy decoding follows the model's argmax step by step.
        twin = RNNLanguageModel(12, "scrn", 8, 3)
        twin.build((1, 5))
        twin.set_weights(model.get_weights())
        logits = np.asarray(twin(a[None, :-1]))
        self.assertAllEqual(np.argmax(logits[0, 2:], -1), a[3:])
        with self.assertRaisesRegex(ValueError, "temperature"):
            model.generate([1], 3, temperature=-1)

    def test_char_level_generation(self):
        from kdl.datasets import Vocabulary

        vocab = Vocabulary(["<unk>", *"abc "], level="char")
        ids = vocab.encode("abc abc abc " * 30)
        ds = tbptt_dataset(ids, 2, 8)
        model = _compile(
            RNNLanguageModel(
                len(vocab), "lstm", 16, stateful=True, batch_size=2
            ),
            lr=3e-2,
        )
        model.fit(ds, epochs=4, verbose=0, callbacks=[ResetStatesCallback()])
        text = vocab.decode(model.generate(vocab.encode("abc"), 8, 0))
        self.assertEqual(text, "abc abc abc")

    def test_save_load(self):
        x = np.random.RandomState(0).randint(0, 20, (2, 6)).astype("int32")
        model = _compile(
            RNNLanguageModel(20, "scrn", 6, 3, learn_alpha=True, name="lm")
        )
        ref = model(x)
        path = self.get_temp_dir() + "/lm.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, RNNLanguageModel)
        self.assertEqual(loaded.get_config(), model.get_config())
        self.assertAllClose(loaded(x), ref)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "rnn"):
            RNNLanguageModel(10, "gru")
        with self.assertRaisesRegex(ValueError, "vocab_size"):
            RNNLanguageModel(0)
        with self.assertRaisesRegex(ValueError, "units"):
            RNNLanguageModel(10, "lstm", 0)
        with self.assertRaisesRegex(ValueError, "batch_size"):
            RNNLanguageModel(10, stateful=True)
        self.assertEqual(perplexity(0.0), 1.0)
        self.assertEqual(perplexity(1e6), float("inf"))

    def test_stateful_fit_under_mirrored_strategy(self):
        ids = np.tile(np.arange(7, dtype="int32"), 60)
        ds = tbptt_dataset(ids, 4, 10)
        with two_replica_strategy().scope():
            model = RNNLanguageModel(
                7, "scrn", 8, 3, stateful=True, batch_size=2
            )
            model.build((2, 10))
            _compile(model)
        history = model.fit(
            ds, epochs=2, verbose=0, callbacks=[ResetStatesCallback()]
        )
        self.assertLess(history.history["loss"][1], history.history["loss"][0])
