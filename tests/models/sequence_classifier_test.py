"""Row-by-row image classifiers: LSTM and BN-LSTM."""

import numpy as np

import kdl
from kdl.layers import BNLSTMCell
from tests.test_case import TestCase
from tests.test_case import backend


class SequenceClassifierTest(TestCase):
    def test_both_cells_build_and_train(self):
        x = np.random.rand(16, 6, 5).astype("float32")
        y = np.arange(16) % 3
        for cell in kdl.models.SEQUENCE_CELLS:
            model = kdl.models.build_sequence_classifier(
                cell, steps=6, features=5, units=4, num_classes=3
            )
            self.assertEqual(model.name, f"sequence_{cell}")
            self.assertEqual(model.input_shape, (None, 6, 5))
            self.assertEqual(model.output_shape, (None, 3))
            kdl.models.compile_classifier(model, jit_compile=backend() == "jax")
            stats = [np.array(w) for w in model.non_trainable_weights]
            history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
            self.assertTrue(np.isfinite(history.history["loss"][0]))
            # The BN-LSTM's moving statistics move in a compiled fit (on
            # JAX too, where the builder unrolls it).
            moved = [
                not np.allclose(a, np.array(w))
                for a, w in zip(stats, model.non_trainable_weights)
            ]
            self.assertEqual(any(moved), cell == "bnlstm", cell)
        rnn = kdl.models.build_sequence_classifier(
            "bnlstm", steps=6, features=5, units=4, momentum=0.5
        ).get_layer("bnlstm")
        self.assertIsInstance(rnn.cell, BNLSTMCell)
        self.assertEqual(rnn.cell.max_steps, 6)
        self.assertEqual(rnn.cell.momentum, 0.5)

    def test_image_input_reads_rows(self):
        model = kdl.models.build_sequence_classifier(
            "lstm", steps=6, features=5, units=4, image_input=True
        )
        self.assertEqual(model.input_shape, (None, 6, 5, 1))
        images = np.random.rand(2, 6, 5, 1).astype("float32")
        plain = kdl.models.build_sequence_classifier(
            "lstm", steps=6, features=5, units=4
        )
        plain.set_weights(model.get_weights())
        self.assertAllClose(model(images), plain(images[..., 0]), atol=1e-6)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "cell"):
            kdl.models.build_sequence_classifier("gru")
        with self.assertRaisesRegex(ValueError, "units"):
            kdl.models.build_sequence_classifier("lstm", units=0)
