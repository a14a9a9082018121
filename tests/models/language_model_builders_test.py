import keras
import numpy as np

from kdl.datasets import tbptt_dataset
from kdl.models import ResetStatesCallback
from kdl.models import build_language_model
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy


class BuildLanguageModelTest(TestCase):
    def test_compiled_stateful_and_built(self):
        model = build_language_model(
            30,
            "scrn",
            8,
            3,
            alpha=0.5,
            embedding_dim=6,
            batch_size=4,
            optimizer="sgd",
            learning_rate=0.1,
            clipnorm=2.0,
            seq_len=5,
            name="lm",
        )
        self.assertTrue(model.built and model.stateful)
        self.assertEqual(model.batch_size, 4)
        self.assertEqual((model.units, model.context_units), (8, 3))
        self.assertEqual((model.alpha, model.embedding_dim), (0.5, 6))
        self.assertEqual(model.name, "lm")
        self.assertIsInstance(model.optimizer, keras.optimizers.SGD)
        self.assertAllClose(model.optimizer.learning_rate, 0.1)
        self.assertEqual(model.optimizer.clipnorm, 2.0)
        self.assertIsInstance(
            model.loss, keras.losses.SparseCategoricalCrossentropy
        )
        self.assertGreater(model.count_params(), 0)

    def test_clipnorm_zero_is_off_and_build_is_lazy(self):
        model = build_language_model(11, "lstm", 4, batch_size=2, clipnorm=0)
        self.assertIsInstance(model.optimizer, keras.optimizers.Adam)
        self.assertIsNone(model.optimizer.clipnorm)
        # On JAX a stateful model is built at construction (Keras's
        # stateful RNN cannot build inside fit's stateless symbolic build).
        self.assertEqual(model.built, backend() == "jax")

    @skip_unless_tensorflow("tf.distribute.MirroredStrategy")
    def test_batch_rows_per_replica(self):
        ids = np.arange(400, dtype="int32") % 7
        with two_replica_strategy().scope():
            model = build_language_model(
                7, "srn", 8, batch_size=4, num_replicas=2, seq_len=10
            )
        self.assertEqual(model.batch_size, 2)
        history = model.fit(
            tbptt_dataset(ids, 4, 10),
            epochs=1,
            verbose=0,
            callbacks=[ResetStatesCallback()],
        )
        self.assertTrue(np.isfinite(history.history["loss"][0]))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "num_replicas=2"):
            build_language_model(7, batch_size=5, num_replicas=2)
        with self.assertRaisesRegex(ValueError, "num_replicas=0"):
            build_language_model(7, batch_size=4, num_replicas=0)
        with self.assertRaisesRegex(ValueError, "rnn"):
            build_language_model(7, rnn="gru", batch_size=4)
