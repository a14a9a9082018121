"""The batch-norm recipe's convnet: variants, renorm schedule, errors."""

import keras
import numpy as np

import kdl
from kdl.layers import BatchRenormalization
from kdl.layers import GhostBatchNormalization
from kdl.layers import L1BatchNormalization
from tests.test_case import TestCase
from tests.test_case import backend

EXPECTED = {
    "bn": keras.layers.BatchNormalization,
    "renorm": BatchRenormalization,
    "ghost": GhostBatchNormalization,
    "l1": L1BatchNormalization,
}

# Variants built from Keras layers only: what the fit would exercise on JAX
# is Keras's own backend code, not kdl's (the builder's choices are checked
# on every backend above the fit).
KERAS_ONLY = ("none", "bn")


def _norms(model):
    return [layer for layer in model.layers if layer.name.startswith("norm")]


class NormalizedConvNetTest(TestCase):
    def test_every_variant_builds_and_trains(self):
        x = np.random.rand(32, 8, 8, 1).astype("float32")
        y = np.arange(32) % 3
        for variant in kdl.models.NORM_VARIANTS:
            model = kdl.models.build_normalized_convnet(
                variant,
                input_shape=(8, 8, 1),
                num_classes=3,
                filters=2,
                dense_units=4,
                momentum=0.9,
                virtual_batch_size=8,
                total_steps=40,
            )
            self.assertEqual(model.name, f"convnet_{variant}")
            self.assertEqual(model.output_shape, (None, 3))
            norms = _norms(model)
            self.assertEqual(
                [n.name for n in norms],
                [] if variant == "none" else ["norm0", "norm1", "norm_dense"],
            )
            for layer in norms:
                self.assertIsInstance(layer, EXPECTED[variant])
                self.assertEqual(layer.momentum, 0.9)
            # Normalized layers drop their bias (beta replaces it).
            self.assertEqual(
                model.get_layer("conv0").use_bias, variant == "none"
            )
            self.assertEqual(model.get_layer("conv1").filters, 4)
            if backend() == "jax" and variant in KERAS_ONLY:
                continue  # its layers are all Keras's: fitted on TF only
            # XLA on JAX: one program per variant instead of every op of
            # the step compiled on its own (jit_compile=False there); graph
            # mode on TensorFlow, whose XLA compiles slower.
            kdl.models.compile_classifier(
                model, 1e-2, jit_compile=backend() == "jax"
            )
            history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
            self.assertTrue(np.isfinite(history.history["loss"][0]))

    def test_renorm_schedule_scales_the_paper_fractions(self):
        self.assertEqual(
            kdl.models.renorm_schedule(800),
            {"warmup_steps": 100, "rmax_steps": 800, "dmax_steps": 500},
        )
        layer = kdl.models.normalization_layer(
            "renorm", total_steps=40000, rmax=2.0, dmax=4.0
        )
        self.assertEqual(
            (layer.warmup_steps, layer.dmax_steps, layer.rmax_steps),
            (5000, 25000, 40000),
        )
        self.assertEqual((layer.rmax, layer.dmax), (2.0, 4.0))
        ghost = kdl.models.normalization_layer("ghost", virtual_batch_size=4)
        self.assertEqual(ghost.virtual_batch_size, 4)
        self.assertIsNone(kdl.models.normalization_layer("none"))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "variant"):
            kdl.models.normalization_layer("group")
        with self.assertRaisesRegex(ValueError, "variant"):
            kdl.models.build_normalized_convnet("batchnorm")
        with self.assertRaisesRegex(ValueError, "total_steps"):
            kdl.models.renorm_schedule(0)
        with self.assertRaisesRegex(ValueError, "filters"):
            kdl.models.build_normalized_convnet("bn", filters=0)
        with self.assertRaisesRegex(ValueError, "dense_units"):
            kdl.models.build_normalized_convnet("bn", dense_units=True)
