"""evaluate_glo: training / held-out reconstruction MSE and image grids."""

import os

import numpy as np

import kdl
from tests.test_case import TestCase


def _trained(n=12):
    x = np.random.RandomState(0).rand(n, 8, 8, 1).astype("float32")
    model = kdl.models.build_glo(
        n, (8, 8, 1), latent_dim=4, filters=4, loss="l2"
    )
    model.fit(np.arange(n), x, batch_size=4, epochs=1, verbose=0)
    return model, x


class EvaluateGLOTest(TestCase):
    def test_errors_match_the_model_and_grids_are_written(self):
        model, x = _trained()
        x_test = x[:3] * 0.5
        directory = self.get_temp_dir()
        result = kdl.models.evaluate_glo(
            model, x, x_test, encode_steps=2, directory=directory, shown=3
        )
        recon = model.reconstruct(np.arange(len(x)))
        self.assertAllClose(
            result["train_mse"], np.mean((recon - x) ** 2), atol=1e-6
        )
        self.assertTrue(np.isfinite(result["test_mse_encoded"]))
        for name in ("reconstructions", "samples", "interpolations"):
            path = os.path.join(directory, f"{name}.png")
            with open(path, "rb") as f:
                self.assertEqual(f.read(4), b"\x89PNG", name)

    def test_without_grids_and_errors(self):
        model, x = _trained()
        result = kdl.models.evaluate_glo(model, x, x[:2], encode_steps=1)
        self.assertEqual(set(result), {"train_mse", "test_mse_encoded"})
        for name, value in (("encode_steps", 0), ("shown", 2.5)):
            with self.assertRaisesRegex(ValueError, name):
                kdl.models.evaluate_glo(model, x, x[:2], **{name: value})
