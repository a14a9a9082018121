"""kdl.models.glo_builders: build_glo, build_dcgan and make_glo_loss."""

import keras
import numpy as np

import kdl
from tests.test_case import TestCase


class MakeGLOLossTest(TestCase):
    def test_names(self):
        loss = kdl.models.make_glo_loss("lap1", levels=2)
        self.assertIsInstance(loss, kdl.losses.LaplacianPyramidLoss)
        self.assertEqual(loss.levels, 2)
        self.assertIsInstance(
            kdl.models.make_glo_loss("l2"), keras.losses.MeanSquaredError
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "loss"):
            kdl.models.make_glo_loss("huber")


class BuildGLOTest(TestCase):
    def test_compiled_model(self):
        model = kdl.models.build_glo(
            12,
            (8, 8, 1),
            latent_dim=4,
            filters=8,
            loss="l2",
            learning_rate=2e-3,
            code_learning_rate=0.05,
            projection="sphere",
        )
        self.assertIsInstance(model, kdl.models.GLO)
        self.assertEqual(model.latent_dim, 4)
        self.assertEqual(model.generator.output_shape, (None, 8, 8, 1))
        self.assertIsInstance(
            model.code_optimizer, kdl.optimizers.RowSparseAdam
        )
        self.assertAllClose(model.code_optimizer.learning_rate, 0.05)
        self.assertAllClose(model.optimizer.learning_rate, 2e-3)
        norms = np.linalg.norm(model.codes, axis=1)
        self.assertAllClose(norms, np.ones(12), atol=1e-5)
        x = np.random.RandomState(0).rand(12, 8, 8, 1).astype("float32")
        history = model.fit(np.arange(12), x, batch_size=4, epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][-1]))

    def test_defaults_and_no_projection(self):
        model = kdl.models.build_glo(5, projection="none")
        self.assertEqual(model.latent_dim, 32)
        self.assertIsInstance(model.loss, kdl.losses.LaplacianPyramidLoss)
        with self.assertRaisesRegex(ValueError, "loss"):
            kdl.models.build_glo(3, loss="huber")


class BuildDCGANTest(TestCase):
    def test_glo_generator_and_dcgan_optimizers(self):
        model = kdl.models.build_dcgan((8, 8, 1), latent_dim=4, filters=4)
        self.assertIsInstance(model, kdl.models.DCGAN)
        glo = kdl.models.build_dcgan_generator(4, (8, 8, 1), filters=4)
        layer_configs = [
            {k: v for k, v in lay.get_config().items() if k != "name"}
            for lay in glo.layers
        ]
        self.assertEqual(
            [
                {k: v for k, v in lay.get_config().items() if k != "name"}
                for lay in model.generator.layers
            ],
            layer_configs,
        )
        for opt in (model.optimizer, model.discriminator_optimizer):
            self.assertAllClose(opt.learning_rate, 2e-4)
            self.assertAllClose(opt.beta_1, 0.5)
        self.assertEqual(model.prior, "sphere")
        model = kdl.models.build_dcgan(
            (8, 8, 1), 4, 4, prior="normal", learning_rate=1e-3, seed=3
        )
        self.assertEqual((model.prior, model.seed), ("normal", 3))
        self.assertAllClose(model.discriminator_optimizer.learning_rate, 1e-3)
