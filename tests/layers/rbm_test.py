"""RBM: conditionals, free energy vs enumeration, CD-k gradient vs NumPy."""

import itertools

import keras
import numpy as np

from kdl.layers.rbm import RBM
from tests.test_case import TestCase
from tests.test_case import gradients


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _rbm(nv=6, nh=4, seed=0):
    rbm = RBM(nh, seed=seed)
    rbm.build((None, nv))
    rng = np.random.RandomState(seed)
    rbm.set_weights(
        [rng.randn(nv, nh) * 0.7, rng.randn(nh) * 0.5, rng.randn(nv) * 0.5]
    )
    return rbm


def _all_binary(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), "float32")


class RBMTest(TestCase):
    def test_layer(self):
        self.run_layer_test(
            RBM,
            {"units": 3, "cd_k": 2, "sample_visible": True, "seed": 1},
            np.random.rand(4, 5).astype("float32"),
            expected_output_shape=(4, 3),
            expected_num_trainable_weights=3,
        )

    def test_conditionals_and_energies_against_numpy(self):
        rbm = _rbm()
        w, c, b = rbm.get_weights()
        v = np.random.rand(5, 6).astype("float32")
        h = (np.random.rand(5, 4) > 0.5).astype("float32")
        self.assertAllClose(rbm(v), _sigmoid(v @ w + c), atol=1e-6)
        self.assertAllClose(
            rbm.visible_probabilities(h), _sigmoid(h @ w.T + b), atol=1e-6
        )
        energy = -v @ b - h @ c - ((v @ w) * h).sum(1)
        self.assertAllClose(rbm.energy(v, h), energy, atol=1e-5)
        free = -v @ b - np.log1p(np.exp(v @ w + c)).sum(1)
        self.assertAllClose(rbm.free_energy(v), free, atol=1e-5)

    def test_free_energy_marginalises_the_hidden_units(self):
        # exp(-F(v)) = sum_h exp(-E(v, h)), by enumeration of all h.
        rbm = _rbm()
        vs, hs = _all_binary(6), _all_binary(4)
        e = np.stack(
            [np.asarray(rbm.energy(vs, np.tile(h, (64, 1)))) for h in hs], 1
        )
        ref = -np.log(np.exp(-e.astype("float64")).sum(1))
        self.assertAllClose(rbm.free_energy(vs), ref, atol=1e-4)

    def test_cd_surrogate_gradient_is_the_cd_update(self):
        rbm = _rbm()
        w, c, b = rbm.get_weights()
        v0 = (np.random.rand(8, 6) > 0.5).astype("float32")
        (_, vk), (gw, gc, gb) = gradients(
            lambda: rbm.contrastive_divergence(v0, k=3),
            variables=[rbm.kernel, rbm.hidden_bias, rbm.visible_bias],
            has_aux=True,
        )
        vk = np.asarray(vk)
        p0, pk = _sigmoid(v0 @ w + c), _sigmoid(vk @ w + c)
        n = len(v0)
        self.assertAllClose(gw, -(v0.T @ p0 - vk.T @ pk) / n, atol=1e-5)
        self.assertAllClose(gc, -(p0 - pk).mean(0), atol=1e-5)
        self.assertAllClose(gb, -(v0 - vk).mean(0), atol=1e-5)
        self.assertFalse(np.allclose(vk, v0))

    def test_gibbs_sampling_matches_the_model_distribution(self):
        # Long chains of a tiny RBM visit v with frequency p(v) ~ exp(-F(v)).
        rbm = RBM(2, sample_visible=True, seed=3)
        rbm.build((None, 3))
        rng = np.random.RandomState(1)
        rbm.set_weights([rng.randn(3, 2), rng.randn(2), rng.randn(3)])
        vs = _all_binary(3)
        logp = -np.asarray(rbm.free_energy(vs), "float64")
        p = np.exp(logp - logp.max())
        p /= p.sum()
        v = rbm.sample_visible_units(rbm.sample_hidden(np.zeros((4000, 3))))
        for _ in range(30):
            v = rbm.gibbs_step(v)
        codes = np.asarray(v) @ np.array([4, 2, 1])
        freq = np.bincount(codes.astype(int), minlength=8) / 4000.0
        np.testing.assert_allclose(freq, p, atol=0.03)
        samples = rbm.sample(5, steps=3)
        self.assertEqual(tuple(samples.shape), (5, 3))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "units"):
            RBM(0)
        with self.assertRaisesRegex(ValueError, "cd_k"):
            RBM(3, cd_k=0)
        with self.assertRaisesRegex(ValueError, "Build"):
            RBM(3).sample(2)

    def test_mixed_precision_statistics_in_float32(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        rbm = RBM(3)
        y = rbm(np.random.rand(2, 4).astype("float32"))
        self.assertEqual(keras.backend.standardize_dtype(y.dtype), "bfloat16")
        self.assertEqual(
            keras.backend.standardize_dtype(
                rbm.free_energy(np.ones((2, 4))).dtype
            ),
            "float32",
        )
