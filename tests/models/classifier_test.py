"""compile_classifier: Adam + sparse cross-entropy on logits + accuracy."""

import keras
import numpy as np

import kdl
from tests.test_case import TestCase


class CompileClassifierTest(TestCase):
    def test_compiles_for_logits(self):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        self.assertIs(kdl.models.compile_classifier(model, 0.01), model)
        self.assertIsInstance(model.optimizer, keras.optimizers.Adam)
        self.assertAllClose(model.optimizer.learning_rate, 0.01)
        self.assertTrue(model.loss.from_logits)
        x = np.eye(4, dtype="float32")[:3]
        logs = model.evaluate(x, np.arange(3), verbose=0, return_dict=True)
        self.assertEqual(set(logs), {"loss", "accuracy"})
        self.assertAllClose(logs["loss"], np.log(3.0), atol=2.0)

    def test_errors(self):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        for bad in (0.0, -1.0, True):
            with self.assertRaisesRegex(ValueError, "learning_rate"):
                kdl.models.compile_classifier(model, bad)
