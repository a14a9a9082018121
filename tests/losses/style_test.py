"""Gram matrix and style loss against NumPy (Gatys eq. 3-4)."""

import keras
import numpy as np

from kdl.losses.style import StyleLoss
from kdl.losses.style import gram_matrix
from tests.test_case import TestCase
from tests.test_case import gradients


def _np_gram(f):
    b, h, w, c = f.shape
    flat = f.reshape(b, h * w, c).transpose(0, 2, 1)  # F: (N, M)
    return np.einsum("bik,bjk->bij", flat, flat)


class StyleTest(TestCase):
    def test_gram_matrix(self):
        f = np.random.randn(2, 3, 4, 5).astype("float32")
        g = gram_matrix(f)
        self.assertAllClose(g, _np_gram(f), atol=1e-4)
        self.assertAllClose(g, np.transpose(g, (0, 2, 1)), atol=1e-5)
        self.assertAllClose(gram_matrix(f.reshape(2, 12, 5)), g, atol=1e-5)
        with self.assertRaisesRegex(ValueError, "features"):
            gram_matrix(np.zeros((2, 3)))

    def test_style_loss_against_numpy_with_both_constants(self):
        x = np.random.randn(2, 4, 3, 6).astype("float32")
        same = np.random.randn(2, 4, 3, 6).astype("float32")
        n, m = 6, 12
        per_example = ((_np_gram(x) - _np_gram(same)) ** 2).sum((1, 2))
        for constant in (0.25, 1.0):
            loss = StyleLoss(constant=constant)
            ref = (constant / (n**2 * m**2) * per_example).mean()
            self.assertAllClose(loss(same, x), ref, rtol=1e-4)
            # Precomputed Gram target.
            self.assertAllClose(loss(_np_gram(same), x), ref, rtol=1e-4)
        self.assertAllClose(StyleLoss()(x, x), 0.0, atol=1e-6)

    def test_style_image_of_another_size(self):
        # Grams per position: S(y) / M' against S(x) / M. A tiling of an
        # image has its statistics, so the same style (zero loss).
        x = np.random.randn(2, 4, 3, 6).astype("float32")
        y = np.random.randn(2, 5, 5, 6).astype("float32")
        diff = _np_gram(x) / 12 - _np_gram(y) / 25
        ref = (0.25 / 36 * (diff**2).sum((1, 2))).mean()
        self.assertAllClose(StyleLoss()(y, x), ref, rtol=1e-4)
        tiled = np.tile(x, (1, 2, 3, 1))
        self.assertAllClose(StyleLoss()(tiled, x), 0.0, atol=1e-6)
        self.assertGreater(float(StyleLoss()(y, x)), 1e-3)

    def test_serialization_and_gradient(self):
        loss = StyleLoss(constant=1.0, name="s")
        revived = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(loss)
        )
        self.assertEqual(revived.constant, 1.0)
        x = np.random.rand(1, 4, 4, 3).astype("float32")
        y = np.random.rand(1, 4, 4, 3).astype("float32")
        _, (grad,) = gradients(lambda x: loss(y, x), [x])
        # Analytic: dE/dF = constant/(N^2 M^2) * 4 F (G - A), F = (N, M).
        f = x.reshape(16, 3).T
        diff = _np_gram(x) - _np_gram(y)
        ref = (4.0 / (9 * 256) * diff[0] @ f).T.reshape(1, 4, 4, 3)
        self.assertAllClose(grad, ref, rtol=1e-4, atol=1e-7)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "constant"):
            StyleLoss(constant=0)
        with self.assertRaisesRegex(ValueError, "y_pred"):
            StyleLoss()(np.zeros((1, 2, 2)), np.zeros((1, 4, 2)))
