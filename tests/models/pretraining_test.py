"""Greedy layer-wise pretraining (RBMs, auto-encoders, supervised)."""

import numpy as np

from kdl.models import pretraining
from kdl.models.pretraining import _MaskingNoise
from tests.test_case import TestCase


class GreedyPretrainingTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.RandomState(0)
        self.x = rng.rand(64, 10).astype("float32")
        self.y = (self.x[:, 0] > 0.5).astype("int32")

    def test_pretrain_dbn_stacks_rbms_on_hidden_probabilities(self):
        seen = []
        rbms, histories = pretraining.pretrain_dbn(
            self.x,
            [6, 4],
            epochs=2,
            batch_size=16,
            callbacks_fn=lambda name: seen.append(name) or [],
        )
        self.assertEqual([r.kernel.shape for r in rbms], [(10, 6), (6, 4)])
        self.assertEqual(seen, ["rbm_0", "rbm_1"])
        self.assertEqual(len(histories[1]["reconstruction_error"]), 2)
        model = pretraining.build_deep_classifier(10, [6, 4], 2, init=rbms)
        self.assertAllClose(model.get_layer("hidden_1").kernel, rbms[1].kernel)
        self.assertAllClose(
            model.get_layer("hidden_0").bias, rbms[0].hidden_bias
        )

    def test_denoising_and_supervised_pretraining(self):
        weights, hist = pretraining.pretrain_denoising_autoencoders(
            self.x, [5, 3], corruption=0.3, epochs=3, batch_size=16
        )
        self.assertEqual([w[0].shape for w in weights], [(10, 5), (5, 3)])
        self.assertLess(hist[0]["loss"][-1], hist[0]["loss"][0])
        sup, _ = pretraining.pretrain_supervised(
            self.x, self.y, [5], num_classes=2, epochs=2
        )
        model = pretraining.build_deep_classifier(
            10, [5, 3], 2, init=[sup[0], weights[1]]
        )
        self.assertAllClose(model.get_layer("hidden_0").kernel, sup[0][0])
        self.assertEqual(model.output_shape, (None, 2))

    def test_masking_noise_zeroes_without_rescaling(self):
        layer = _MaskingNoise(0.5, seed=0)
        out = np.asarray(layer(np.ones((100, 100)), training=True))
        self.assertTrue(set(np.unique(out)) <= {0.0, 1.0})
        self.assertAlmostEqual(out.mean(), 0.5, delta=0.03)
        self.assertAllEqual(layer(np.ones((2, 2))), np.ones((2, 2)))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "layer_sizes"):
            pretraining.pretrain_dbn(self.x, [])
        with self.assertRaisesRegex(ValueError, "corruption"):
            pretraining.pretrain_denoising_autoencoders(
                self.x, [3], corruption=1.0
            )
        with self.assertRaisesRegex(ValueError, "init"):
            pretraining.build_deep_classifier(10, [3], 2, init=[])
