"""kdl.losses.LaplacianPyramidLoss (Lap1) against a NumPy reference."""

import keras
import numpy as np
from scipy import ndimage

import kdl
from tests.test_case import TestCase


def np_gauss(size, sigma):
    ax = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(ax**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


def np_pyramid(image, levels, size, sigma):
    """Laplacian pyramid of one (H, W, C) image, from the definition."""
    kernel = np_gauss(size, sigma)
    out = []
    g = image.astype("float64")
    for _ in range(levels):
        # Reflect padding without repeating the edge = scipy's "mirror".
        blur = np.stack(
            [
                ndimage.convolve(g[..., c], kernel, mode="mirror")
                for c in range(g.shape[-1])
            ],
            axis=-1,
        )
        out.append(g - blur)
        h, w = blur.shape[0] // 2 * 2, blur.shape[1] // 2 * 2
        g = blur[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3))
    out.append(g)
    return out


def np_lap1(x, y, levels=3, size=5, sigma=1.0):
    """sum_j 2^(2j) |L^j(x) - L^j(y)|_1 / (H W C), per example."""
    losses = []
    for a, b in zip(x, y):
        pa = np_pyramid(a, levels, size, sigma)
        pb = np_pyramid(b, levels, size, sigma)
        total = sum(
            4.0**j * np.abs(la - lb).sum()
            for j, (la, lb) in enumerate(zip(pa, pb))
        )
        losses.append(total / a.size)
    return np.array(losses)


class LaplacianPyramidLossTest(TestCase):
    def test_matches_numpy_reference(self):
        rng = np.random.RandomState(0)
        x = rng.uniform(size=(3, 28, 28, 2)).astype("float32")
        y = rng.uniform(size=(3, 28, 28, 2)).astype("float32")
        for levels, size, sigma in ((3, 5, 1.0), (2, 3, 0.7), (4, 5, 2.0)):
            loss = kdl.losses.LaplacianPyramidLoss(
                levels=levels, kernel_size=size, sigma=sigma, reduction=None
            )
            want = np_lap1(x, y, levels, size, sigma)
            self.assertAllClose(loss(x, y), want, atol=1e-5, rtol=1e-5)
        mean = kdl.losses.LaplacianPyramidLoss()
        self.assertAllClose(mean(x, y), np_lap1(x, y).mean(), rtol=1e-5)

    def test_level_weighting_and_special_cases(self):
        rng = np.random.RandomState(1)
        x = rng.uniform(size=(2, 16, 16)).astype("float32")
        y = rng.uniform(size=(2, 16, 16)).astype("float32")
        # levels=0: only the residual, i.e. the mean absolute error.
        l1 = kdl.losses.LaplacianPyramidLoss(levels=0, reduction=None)
        self.assertAllClose(l1(x, y), np.abs(x - y).mean(axis=(1, 2)))
        lap = kdl.losses.LaplacianPyramidLoss(levels=2)
        self.assertAllClose(lap(x, x), 0.0)
        # A constant offset lives only in the low-pass residual, whose
        # weight 4^levels times its 4^-levels share of pixels gives 0.3.
        self.assertAllClose(lap(x, x + 0.3), 0.3, atol=1e-5)
        # Rank-3 images equal rank-4 images with one channel.
        self.assertAllClose(lap(x, y), lap(x[..., None], y[..., None]))

    def test_float16_inputs_give_float32(self):
        x = np.random.RandomState(2).uniform(size=(2, 8, 8, 1))
        loss = kdl.losses.LaplacianPyramidLoss(levels=1)
        value = loss(x.astype("float16"), (x * 0.5).astype("float16"))
        dtype = keras.backend.standardize_dtype(value.dtype)
        self.assertEqual(dtype, "float32")

    def test_keras_loss_in_fit_and_serialization(self):
        loss = kdl.losses.LaplacianPyramidLoss(levels=2, sigma=1.5)
        blob = keras.losses.serialize(loss)
        revived = keras.losses.deserialize(blob)
        self.assertEqual(revived.get_config(), loss.get_config())
        model = keras.Sequential(
            [
                keras.Input(shape=(8,)),
                keras.layers.Dense(16 * 16),
                keras.layers.Reshape((16, 16, 1)),
            ]
        )
        model.compile(optimizer="adam", loss=loss)
        x = np.random.RandomState(3).normal(size=(8, 8))
        y = np.random.RandomState(4).uniform(size=(8, 16, 16, 1))
        history = model.fit(x, y, epochs=2, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"]).all())
        self.assertLess(history.history["loss"][1], history.history["loss"][0])

    def test_argument_errors(self):
        cls = kdl.losses.LaplacianPyramidLoss
        with self.assertRaisesRegex(ValueError, "levels"):
            cls(levels=-1)
        with self.assertRaisesRegex(ValueError, "kernel_size"):
            cls(kernel_size=4)
        with self.assertRaisesRegex(ValueError, "sigma"):
            cls(sigma=0.0)
        with self.assertRaisesRegex(ValueError, "too small"):
            cls(levels=4)(np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)))
        with self.assertRaisesRegex(ValueError, "images"):
            cls()(np.zeros((2, 8)), np.zeros((2, 8)))
