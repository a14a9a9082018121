import keras_tuner

from kdl.models import Seq2Seq
from kdl.models import Seq2SeqAttention
from kdl.tuning.nmt import PRESETS
from kdl.tuning.nmt import NMTHyperModel
from tests.test_case import TestCase


class NMTHyperModelTest(TestCase):
    def test_defaults_are_the_preset(self):
        for preset in PRESETS:
            hp = keras_tuner.HyperParameters()
            model = NMTHyperModel(50, 60, 2, 3, preset=preset).build(hp)
            self.assertIsInstance(model, Seq2SeqAttention)
            for name, value in PRESETS[preset].items():
                self.assertEqual(hp.get(name), value, name)
            self.assertTrue(hp.get("attention"))
            self.assertEqual(model.units, PRESETS[preset]["units"])
            self.assertEqual(model.target_vocab_size, 60)
            self.assertIsNotNone(model.optimizer)

    def test_overrides(self):
        hp = keras_tuner.HyperParameters()
        hp.Fixed("units", 24)
        hp.Fixed("cell", "lstm")
        hp.Fixed("attention", False)
        model = NMTHyperModel(
            50, 60, 2, 3, defaults={"embedding_dim": 16}
        ).build(hp)
        self.assertIsInstance(model, Seq2Seq)
        self.assertNotIsInstance(model, Seq2SeqAttention)
        self.assertEqual((model.units, model.cell), (24, "lstm"))
        self.assertEqual(hp.get("embedding_dim"), 16)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "preset"):
            NMTHyperModel(50, 60, 2, 3, preset="wmt14")
