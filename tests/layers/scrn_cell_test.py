"""The SCRN cell inside `keras.layers.RNN` (Mikolov et al. 2014)."""

import keras
import numpy as np

from kdl.layers import SCRNCell
from tests.test_case import TestCase


class SCRNCellTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.RandomState(0)
        self.x = rng.normal(size=(4, 6, 5)).astype("float32")

    def test_learnable_alpha_in_unit_interval(self):
        cell = SCRNCell(4, 3, alpha=0.9, learn_alpha=True)
        cell.build((None, 5))
        self.assertAllClose(cell.get_alpha(), np.full(3, 0.9), atol=1e-6)
        cell.alpha_logit.assign(np.array([-50.0, 0.0, 50.0]))
        a = np.asarray(cell.get_alpha())
        self.assertTrue(np.all(a >= 0) and np.all(a <= 1))
        fixed = SCRNCell(4, 3, alpha=0.9)
        fixed.build((None, 5))
        self.assertLen(fixed.trainable_weights, 4)

    def test_cell_in_rnn_serializes(self):
        inputs = keras.Input((6, 5))
        outputs = keras.layers.RNN(SCRNCell(4, 3, learn_alpha=True))(inputs)
        model = keras.Model(inputs, outputs)
        path = self.get_temp_dir() + "/m.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(loaded(self.x), model(self.x))
        cell = SCRNCell(4, 3, alpha=0.5, context_mode="previous")
        self.assertEqual(
            SCRNCell.from_config(cell.get_config()).get_config(),
            cell.get_config(),
        )

    def test_bad_arguments(self):
        for kwargs, pattern in (
            (dict(units=0, context_units=3), "units"),
            (dict(units=-2, context_units=3), "units"),
            (dict(units=4, context_units=0), "context_units"),
            (dict(units=4, context_units=3, alpha=-0.1), "alpha"),
            (dict(units=4, context_units=3, alpha=1.5), "alpha"),
            (
                dict(units=4, context_units=3, alpha=1.0, learn_alpha=True),
                "alpha",
            ),
            (
                dict(units=4, context_units=3, context_mode="next"),
                "context_mode",
            ),
        ):
            with self.assertRaisesRegex(ValueError, pattern):
                SCRNCell(**kwargs)
