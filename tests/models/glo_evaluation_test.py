"""evaluate_glo / evaluate_generator: reconstruction MSE, sharpness, FD."""

import os

import keras
import numpy as np

import kdl
from tests.test_case import TestCase
from tests.test_case import skip_unless_tensorflow


def _trained(n=12):
    x = np.random.RandomState(0).rand(n, 8, 8, 1).astype("float32")
    model = kdl.models.build_glo(
        n, (8, 8, 1), latent_dim=4, filters=4, loss="l2"
    )
    model.fit(np.arange(n), x, batch_size=4, epochs=1, verbose=0)
    return model, x


class EvaluateGLOTest(TestCase):
    @skip_unless_tensorflow("GLO.encode (kdl.models.search_codes)")
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

    @skip_unless_tensorflow("GLO.encode (kdl.models.search_codes)")
    def test_without_grids_and_errors(self):
        model, x = _trained()
        result = kdl.models.evaluate_glo(model, x, x[:2], encode_steps=1)
        self.assertEqual(
            set(result),
            {
                "train_mse",
                "test_mse_encoded",
                "train_sharpness",
                "test_sharpness",
            },
        )
        for name, value in (("encode_steps", 0), ("shown", 2.5)):
            with self.assertRaisesRegex(ValueError, name):
                kdl.models.evaluate_glo(model, x, x[:2], **{name: value})


class EvaluateGeneratorTest(TestCase):
    @skip_unless_tensorflow("GLO.encode (kdl.models.search_codes)")
    def test_scores_match_the_models_outputs(self):
        model, x = _trained()
        held_out, directory = x[:4] * 0.5, self.get_temp_dir()
        flat = keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten()]
        )
        result = kdl.models.evaluate_generator(
            model,
            held_out,
            encode_steps=3,
            seed=1,
            features=flat,
            fd_images=x,
            directory=directory,
            shown=3,
        )
        # The same search, decoding and sampling through the public API.
        recon = model.decode(model.encode(held_out, steps=3, seed=1))
        samples = model.sample(len(x), seed=1)
        stats = kdl.models.gaussian_statistics
        fd = kdl.models.frechet_distance
        want = {
            "test_mse_encoded": np.mean((recon - held_out) ** 2),
            "test_sharpness": kdl.models.laplacian_energy_ratio(
                recon, held_out
            ),
            "sample_sharpness": kdl.models.laplacian_energy_ratio(samples, x),
            "fd_samples": fd(
                *stats(x.reshape(len(x), -1)),
                *stats(samples.reshape(len(x), -1)),
            ),
            "fd_reconstructions": fd(
                *stats(held_out.reshape(4, -1)), *stats(recon.reshape(4, -1))
            ),
        }
        self.assertEqual(set(result), set(want))
        for key, value in want.items():
            self.assertAllClose(result[key], value, atol=1e-5, msg=key)
        shown = np.load(os.path.join(directory, "shown.npz"))
        self.assertAllClose(shown["samples"], samples[:3])
        self.assertAllClose(shown["reconstructions"], recon[:3])
        with self.assertRaisesRegex(ValueError, "fd_images"):
            kdl.models.evaluate_generator(model, held_out, features=flat)


class LaplacianEnergyRatioTest(TestCase):
    def test_blur_lowers_and_noise_raises_the_ratio(self):
        import scipy.ndimage

        rng = np.random.RandomState(0)
        x = rng.rand(5, 16, 16, 1)
        ratio = kdl.models.laplacian_energy_ratio
        self.assertAllClose(ratio(x, x), 1.0)
        blurred = scipy.ndimage.gaussian_filter(x, (0, 1.0, 1.0, 0))
        self.assertLess(ratio(blurred, x), 0.2)
        noisy = x + rng.normal(0, 0.3, x.shape)
        self.assertGreater(ratio(noisy, x), 1.2)
        # By hand: one 3x3 image, a single bright pixel in the middle.
        # Laplacian (reflect borders): -4 there, 1 at its 4 neighbours.
        dot = np.zeros((1, 3, 3))
        dot[0, 1, 1] = 1.0
        flat = np.full((1, 3, 3), 0.5)
        self.assertTrue(np.isnan(ratio(dot, flat)))
        self.assertAllClose(ratio(dot, dot), 1.0)
        self.assertAllClose(
            np.mean(scipy.ndimage.laplace(dot[0]) ** 2), (16 + 4) / 9
        )

    def test_shapes_must_match(self):
        with self.assertRaisesRegex(
            ValueError, "reference.shape=\\(2, 4, 4\\)"
        ):
            kdl.models.laplacian_energy_ratio(
                np.zeros((2, 4, 4, 1)), np.zeros((2, 4, 4))
            )
