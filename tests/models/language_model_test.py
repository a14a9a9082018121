import keras
import numpy as np
import scipy.special
import tensorflow as tf

from kdl.datasets import tbptt_dataset
from kdl.layers import AdaptiveSoftmax
from kdl.models import ResetStatesCallback
from kdl.models import RNNLanguageModel
from kdl.models import evaluate_perplexity
from kdl.models.language_model import perplexity
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy


def _compile(model, lr=1e-2):
    model.compile(
        keras.optimizers.Adam(lr, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def train_step_shapes(model, batch_shape):
    """Shapes of every intermediate tensor of one traced `train_step`.

    TensorFlow: the ops of the `tf.function` graph; JAX: the equations of
    the step's jaxpr, nested ones (loops, conditionals) included.
    """
    data = (np.zeros(batch_shape, "int32"), np.zeros(batch_shape, "int32"))
    if backend() == "tensorflow":
        spec = tf.TensorSpec(batch_shape, "int32")
        graph = (
            tf.function(model.train_step)
            .get_concrete_function((spec, spec))
            .graph
        )
        return [
            out.shape.as_list()
            for op in graph.get_operations()
            for out in op.outputs
            if out.shape.rank
        ]
    import jax

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    closed = jax.make_jaxpr(model.train_step)(state, data)
    shapes = []

    def visit(jaxpr):
        for eqn in jaxpr.eqns:
            shapes.extend(list(v.aval.shape) for v in eqn.outvars)
            for param in eqn.params.values():
                for sub in param if isinstance(param, tuple) else (param,):
                    sub = getattr(sub, "jaxpr", sub)
                    if hasattr(sub, "eqns"):
                        visit(sub)

    visit(closed.jaxpr)
    return [shape for shape in shapes if shape]


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
        for xb, yb in ds:  # compiled calls, the state carried across them
            logits = model.predict_on_batch(np.asarray(xb)).astype("float64")
            p = scipy.special.softmax(logits, axis=-1)
            p = np.take_along_axis(p, np.asarray(yb)[..., None], -1)
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

    @skip_unless_tensorflow("tf.distribute.MirroredStrategy")
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


def _adaptive(vocab_size=12, cutoffs=(4, 8), **kwargs):
    return RNNLanguageModel(
        vocab_size,
        kwargs.pop("rnn", "lstm"),
        kwargs.pop("units", 8),
        softmax="adaptive",
        cutoffs=list(cutoffs),
        **kwargs,
    )


class AdaptiveSoftmaxLanguageModelTest(TestCase):
    def test_outputs_exact_log_probs(self):
        x = np.random.RandomState(0).randint(0, 30, (2, 5)).astype("int32")
        v, e, u = 30, 6, 8
        model = _adaptive(30, (5, 15), units=u, embedding_dim=e)
        out = np.asarray(model(x))
        self.assertEqual(out.shape, (2, 5, v))
        self.assertEqual(out.dtype, np.float32)
        self.assertAllClose(np.exp(out).sum(-1), np.ones((2, 5)), atol=1e-5)
        self.assertIsInstance(model.head, AdaptiveSoftmax)
        # Embedding + LSTM + head (5 words + 2 clusters, biased) + tails
        # (8 -> 2 -> 10 words, 8 -> 1 -> 15 words).
        count = v * e + 4 * (e * u + u * u + u) + 8 * 7 + 7
        count += 8 * 2 + 2 * 10 + 8 * 1 + 1 * 15
        self.assertEqual(model.count_params(), count)
        # The full-softmax default is unchanged.
        self.assertIsInstance(
            RNNLanguageModel(v, "lstm", u).head, keras.layers.Dense
        )

    def test_training_loss_is_the_exact_cross_entropy(self):
        # With a zero learning rate the weights stay put, so fit's adaptive
        # loss (no full softmax) must equal evaluate's loss (from the exact
        # log-probabilities) and the NumPy token mean of -log p(target).
        rng = np.random.RandomState(0)
        x = rng.randint(0, 12, (8, 6)).astype("int32")
        y = rng.randint(0, 12, (8, 6)).astype("int32")
        model = _adaptive()
        model.compile(keras.optimizers.SGD(0.0))
        fit_loss = model.fit(x, y, batch_size=8, verbose=0).history["loss"][0]
        eval_loss = model.evaluate(x, y, batch_size=8, verbose=0)
        log_p = np.asarray(model(x), "float64")
        want = -np.take_along_axis(log_p, y[..., None], -1).mean()
        self.assertAlmostEqual(fit_loss, want, places=5)
        self.assertAlmostEqual(eval_loss, want, places=5)
        # Per-sequence sample weights, as Keras: sum(w * loss) / count.
        w = np.linspace(0.0, 2.0, 8).astype("float32")
        token = -np.take_along_axis(log_p, y[..., None], -1)[..., 0]
        got = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0)
        self.assertAlmostEqual(got, (w[:, None] * token).mean(), places=5)

    def test_train_step_never_builds_the_full_softmax(self):
        v = 1000
        model = _adaptive(v, (10, 100), units=8, embedding_dim=4)
        model.compile(keras.optimizers.Adam(1e-3))
        model.build((4, 5))
        model.optimizer.build(model.trainable_variables)
        shapes = train_step_shapes(model, (4, 5))
        self.assertTrue(shapes)
        self.assertFalse([s for s in shapes if s[-1] == v])

    def test_learns_and_evaluate_perplexity(self):
        ids = np.tile(np.arange(7, dtype="int32"), 200)
        ds = tbptt_dataset(ids, 4, 10)
        model = _adaptive(
            7, (2, 4), rnn="scrn", units=16, stateful=True, batch_size=4
        )
        model.compile(keras.optimizers.Adam(3e-2, clipnorm=1.0))
        before = evaluate_perplexity(model, ds)
        history = model.fit(
            ds, epochs=3, verbose=0, callbacks=[ResetStatesCallback()]
        )
        after = evaluate_perplexity(model, ds)
        self.assertGreater(before, 4.0)
        self.assertLess(after, 1.5)
        self.assertLess(history.history["loss"][-1], 0.5)
        # The exact log-probabilities, token by token.
        total, count = 0.0, 0
        model.reset_rnn_states()
        for xb, yb in ds:
            # The stateful model carries its state from batch to batch
            # either way; on JAX a compiled call costs one program, an eager
            # one a program per op.
            log_p = np.asarray(model.predict_on_batch(np.asarray(xb)), "f8")
            total -= np.take_along_axis(
                log_p, np.asarray(yb)[..., None], -1
            ).sum()
            count += yb.shape[0] * yb.shape[1]
        self.assertAlmostEqual(after, np.exp(total / count), places=3)
        # Greedy generation continues the cycle.
        self.assertAllEqual(
            model.generate([0, 1, 2], 5, 0)[3:], [3, 4, 5, 6, 0]
        )

    def test_generate(self):
        model = _adaptive(rnn="scrn", stateful=True, batch_size=2)
        model.build((2, 5))
        a = model.generate([1, 2, 3], 10, temperature=0)
        self.assertAllEqual(a, model.generate([1, 2, 3], 10, temperature=0))
        twin = _adaptive(rnn="scrn")
        twin.build((1, 5))
        twin.set_weights(model.get_weights())
        log_p = np.asarray(twin(a[None, :-1]))
        self.assertAllEqual(np.argmax(log_p[0, 2:], -1), a[3:])
        c = model.generate([1], 30, temperature=1.0, seed=0)
        self.assertAllEqual(c, model.generate([1], 30, temperature=1.0, seed=0))
        self.assertTrue(np.all((c >= 0) & (c < 12)))

    def test_save_load(self):
        x = np.random.RandomState(0).randint(0, 12, (2, 6)).astype("int32")
        model = _adaptive(name="lm")
        model.compile(keras.optimizers.Adam(1e-3))
        ref = model(x)
        path = self.get_temp_dir() + "/lm.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, RNNLanguageModel)
        self.assertEqual(loaded.get_config(), model.get_config())
        self.assertEqual(loaded.get_config()["cutoffs"], [4, 8])
        self.assertAllClose(loaded(x), ref)

    @skip_unless_tensorflow("tf.distribute.MirroredStrategy")
    def test_mirrored_step_equals_single_device_step(self):
        rng = np.random.RandomState(0)
        x = rng.randint(0, 12, (4, 5)).astype("int32")
        y = rng.randint(0, 12, (4, 5)).astype("int32")
        single = _adaptive()
        single.build((4, 5))
        weights = single.get_weights()
        single.compile(keras.optimizers.SGD(0.5))
        single.fit(x, y, batch_size=4, shuffle=False, verbose=0)
        with two_replica_strategy().scope():
            mirrored = _adaptive()
            mirrored.build((4, 5))
            mirrored.set_weights(weights)
            mirrored.compile(keras.optimizers.SGD(0.5))
        history = mirrored.fit(x, y, batch_size=4, shuffle=False, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        for a, b in zip(mirrored.get_weights(), single.get_weights()):
            self.assertAllClose(a, b, atol=1e-5)
        self.assertFalse(
            all(
                np.allclose(a, b) for a, b in zip(weights, single.get_weights())
            )
        )

    def test_mixed_float16_fit(self):
        # The custom train_step scales the loss for the LossScaleOptimizer.
        keras.config.set_dtype_policy("mixed_float16")
        x = np.random.RandomState(0).randint(0, 12, (320, 5)).astype("int32")
        y = (x + 1) % 12
        model = _adaptive()
        model.compile(keras.optimizers.Adam(3e-2))
        self.assertIsInstance(
            model.optimizer, keras.optimizers.LossScaleOptimizer
        )
        before = model.evaluate(x, y, batch_size=320, verbose=0)
        history = model.fit(x, y, batch_size=16, verbose=0)
        after = model.evaluate(x, y, batch_size=320, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        self.assertLess(after, before - 0.5)
        log_p = np.asarray(model(x[:4]))
        self.assertEqual(log_p.dtype, np.float32)
        self.assertAllClose(np.exp(log_p).sum(-1), np.ones((4, 5)), atol=1e-3)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "softmax"):
            RNNLanguageModel(10, softmax="sampled")
        with self.assertRaisesRegex(ValueError, "Received: cutoffs=None"):
            RNNLanguageModel(10, softmax="adaptive")
        with self.assertRaisesRegex(ValueError, "Received: cutoffs=\\[3\\]"):
            RNNLanguageModel(10, cutoffs=[3])
        with self.assertRaisesRegex(ValueError, "cutoffs"):
            RNNLanguageModel(10, softmax="adaptive", cutoffs=[3, 10])
        with self.assertRaisesRegex(ValueError, "div_value"):
            RNNLanguageModel(10, softmax="adaptive", cutoffs=[3], div_value=0)
