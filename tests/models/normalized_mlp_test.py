"""build_normalized_mlp: each variant's layers and defaults; errors."""

import keras
import numpy as np

import kdl
from kdl.layers import BatchRenormalization
from kdl.layers import GhostBatchNormalization
from tests.test_case import TestCase
from tests.test_case import backend

EXPECTED = {
    "bn": keras.layers.BatchNormalization,
    "keras_renorm": keras.layers.BatchNormalization,
    "renorm": BatchRenormalization,
    "ghost": GhostBatchNormalization,
}

# Variants built from Keras layers only: what the fit would exercise on JAX
# is Keras's own backend code, not kdl's (the builder's choices are checked
# on every backend above the fit).
KERAS_ONLY = ("none", "bn", "keras_renorm")


def _norms(model):
    return [layer for layer in model.layers if layer.name.startswith("norm")]


class NormalizedMLPTest(TestCase):
    def test_every_variant_builds_and_trains(self):
        x = np.random.rand(32, 4, 4, 1).astype("float32")
        y = np.arange(32) % 3
        for variant in kdl.models.MLP_NORM_VARIANTS:
            model = kdl.models.build_normalized_mlp(
                variant,
                input_shape=(4, 4, 1),
                num_classes=3,
                hidden_units=[6, 5],
                momentum=0.9,
                virtual_batch_size=8,
            )
            self.assertEqual(model.name, f"mlp_{variant}")
            self.assertEqual(model.output_shape, (None, 3))
            norms = _norms(model)
            self.assertEqual(
                [n.name for n in norms],
                [] if variant == "none" else ["norm0", "norm1"],
            )
            for layer in norms:
                self.assertIsInstance(layer, EXPECTED[variant])
                self.assertEqual(layer.momentum, 0.9)
            self.assertEqual(model.get_layer("dense1").units, 5)
            self.assertEqual(
                model.get_layer("dense0").use_bias, variant == "none"
            )
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

    def test_renorm_variants_keep_their_layers_defaults(self):
        (kdl_renorm,) = _norms(
            kdl.models.build_normalized_mlp("renorm", hidden_units=[4])
        )
        self.assertEqual(
            (
                kdl_renorm.warmup_steps,
                kdl_renorm.dmax_steps,
                kdl_renorm.rmax_steps,
            ),
            (100, 500, 800),
        )
        self.assertEqual((kdl_renorm.rmax, kdl_renorm.dmax), (3.0, 5.0))
        (keras_renorm,) = _norms(
            kdl.models.build_normalized_mlp("keras_renorm", hidden_units=[4])
        )
        self.assertTrue(keras_renorm.renorm)
        self.assertEqual(keras_renorm.get_config()["renorm_clipping"], {})
        (bn,) = _norms(kdl.models.build_normalized_mlp("bn", hidden_units=[4]))
        self.assertFalse(bn.renorm)
        self.assertEqual(bn.momentum, 0.99)
        (ghost,) = _norms(
            kdl.models.build_normalized_mlp("ghost", hidden_units=[4])
        )
        self.assertEqual(ghost.virtual_batch_size, 32)

    def test_renorm_options(self):
        (layer,) = _norms(
            kdl.models.build_normalized_mlp(
                "renorm",
                hidden_units=[4],
                renorm_options=BatchRenormalization.PAPER_SCHEDULE,
            )
        )
        self.assertEqual(layer.warmup_steps, 5000)
        clip = {"rmax": 3.0, "rmin": 1 / 3, "dmax": 5.0}
        (layer,) = _norms(
            kdl.models.build_normalized_mlp(
                "keras_renorm",
                hidden_units=[4],
                renorm_options={"renorm_clipping": clip},
            )
        )
        self.assertEqual(layer.get_config()["renorm_clipping"], clip)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "variant"):
            kdl.models.build_normalized_mlp("l1")
        with self.assertRaisesRegex(ValueError, "hidden_units"):
            kdl.models.build_normalized_mlp("bn", hidden_units=[])
        with self.assertRaisesRegex(ValueError, "momentum"):
            kdl.models.build_normalized_mlp("bn", momentum=1.0)
        with self.assertRaisesRegex(ValueError, "virtual_batch_size"):
            kdl.models.build_normalized_mlp("ghost", virtual_batch_size=0)
        with self.assertRaisesRegex(ValueError, "num_classes"):
            kdl.models.build_normalized_mlp("bn", num_classes=0)
        with self.assertRaisesRegex(ValueError, "renorm_options"):
            kdl.models.build_normalized_mlp("bn", renorm_options={"rmax": 2})
