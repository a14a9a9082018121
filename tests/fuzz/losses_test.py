"""Property-based fuzzing of every public kdl loss (Hypothesis).

Small random shapes (batch 1 included), magnitudes from 1e-4 to 1e3 and
float16/bfloat16/float32/float64 inputs: the losses are finite,
non-negative, zero on identical inputs where that holds, and agree with
the NumPy references of their own test files.
"""

import keras
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import kdl
from tests.fuzz import fuzzing as fz
from tests.fuzz.fuzzing import fuzzes
from tests.losses.laplacian_pyramid_test import np_lap1
from tests.losses.noise_as_targets_test import reference as nat_reference
from tests.losses.style_test import _np_gram
from tests.test_case import TestCase

input_dtypes = st.sampled_from(["float32", "float64", "float16", "bfloat16"])


def cast(x, dtype):
    return keras.ops.cast(x, dtype)


class LossFuzzTest(TestCase):
    @fuzzes("LaplacianPyramidLoss")
    @given(
        fz.batches,
        st.integers(0, 2),
        st.sampled_from([1, 3, 5]),
        st.floats(0.5, 2.0),
        st.integers(0, 3),
        st.integers(0, 3),
        fz.scales,
        input_dtypes,
        fz.seeds,
    )
    def test_laplacian_pyramid_loss(
        self, batch, levels, size, sigma, extra_h, extra_w, scale, dtype, seed
    ):
        # Every blurred level keeps more pixels than the kernel's radius.
        side = 2**levels * (size // 2 + 1)
        shape = (batch, side + extra_h, side + extra_w, 2)
        x = fz.normal(seed, shape, scale)
        y = fz.normal(seed + 1, shape, scale)
        loss = kdl.losses.LaplacianPyramidLoss(
            levels=levels, kernel_size=size, sigma=sigma, reduction=None
        )
        got = loss(cast(x, dtype), cast(y, dtype))
        fz.assert_finite(self, got)
        self.assertTrue((fz.as_numpy(got) >= 0).all())
        self.assertAllClose(loss(x, x), np.zeros(batch))
        if dtype in ("float32", "float64"):
            want = np_lap1(x, y, levels, size, sigma)
            self.assertAllClose(got, want, atol=1e-5 * scale, rtol=1e-4)

    @fuzzes("NoiseAsTargets")
    @given(
        fz.batches,
        st.integers(1, 5),
        st.booleans(),
        st.sampled_from(["normal", "zeros"]),
        fz.scales,
        input_dtypes,
        fz.seeds,
    )
    def test_noise_as_targets(
        self, batch, dim, normalize, kind, scale, dtype, seed
    ):
        targets = fz.normal(seed, (batch, dim))
        targets /= np.linalg.norm(targets, axis=1, keepdims=True)
        features = fz.normal(seed + 1, (batch, dim), scale)
        if kind == "zeros":
            features[0] = 0.0  # no direction: finite, not NaN
        loss = kdl.losses.NoiseAsTargets(normalize=normalize)
        got = loss(cast(targets, dtype), cast(features, dtype))
        fz.assert_finite(self, got)
        self.assertGreaterEqual(float(fz.as_numpy(got)), -1e-6)
        if normalize:
            self.assertLessEqual(float(fz.as_numpy(got)), 2.0 + 1e-2)
        # (The reference has no epsilon: compare where it is negligible.)
        tiny = (features**2).sum(1).min() < 1e-6
        if dtype in ("float32", "float64") and kind == "normal" and not tiny:
            want = nat_reference(targets, features, normalize)
            atol = 1e-5 if normalize else 1e-5 * scale**2
            self.assertAllClose(got, want, atol=atol, rtol=1e-4)

    @fuzzes("StyleLoss")
    @given(
        fz.batches,
        st.integers(1, 3),
        st.integers(1, 3),
        st.integers(1, 3),
        st.booleans(),
        fz.scales,
        input_dtypes,
        fz.seeds,
    )
    def test_style_loss(
        self, batch, h, w, channels, as_gram, scale, dtype, seed
    ):
        pred = fz.normal(seed, (batch, h, w, channels), scale)
        style = fz.normal(seed + 1, (batch, h + 1, w, channels), scale)
        # A precomputed Gram is float32 (`gram_matrix`'s dtype).
        true = (
            cast(_np_gram(style), "float32") if as_gram else cast(style, dtype)
        )
        loss = kdl.losses.StyleLoss(reduction=None)
        got = loss(true, cast(pred, dtype))
        fz.assert_finite(self, got)
        self.assertTrue((fz.as_numpy(got) >= 0).all())
        self.assertAllClose(loss(pred, pred), np.zeros(batch))
        if dtype in ("float32", "float64"):
            # Grams per position: the style maps' over their own
            # (h + 1) * w positions, a precomputed Gram over pred's h * w.
            m = h * w
            style_gram = _np_gram(style.astype("float64"))
            target = style_gram / (m if as_gram else (h + 1) * w)
            diff = _np_gram(pred.astype("float64")) / m - target
            want = 0.25 / channels**2 * (diff**2).sum((1, 2))
            self.assertAllClose(got, want, atol=1e-6 * scale**4, rtol=1e-3)

    @fuzzes("gram_matrix")
    @given(
        fz.batches,
        st.integers(1, 3),
        st.integers(1, 3),
        st.integers(1, 3),
        fz.scales,
        input_dtypes,
        fz.seeds,
    )
    def test_gram_matrix(self, batch, h, w, channels, scale, dtype, seed):
        f = fz.normal(seed, (batch, h, w, channels), scale)
        got = kdl.losses.gram_matrix(cast(f, dtype))
        fz.assert_finite(self, got)
        self.assertEqual(got.dtype, "float32")
        g = fz.as_numpy(got)
        self.assertAllClose(g, np.swapaxes(g, 1, 2))  # symmetric
        if dtype in ("float32", "float64"):
            want = _np_gram(f.astype("float64"))
            self.assertAllClose(g, want, atol=1e-5 * scale**2, rtol=1e-4)
