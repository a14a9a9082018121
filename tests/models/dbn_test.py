"""RBMTrainer (CD-k raises the exact likelihood), greedy pretraining."""

import itertools
import os

import keras
import numpy as np
from scipy.special import logsumexp

from kdl.layers.rbm import RBM
from kdl.models import dbn
from tests.test_case import TestCase
from tests.test_case import two_replica_strategy


def _patterns(n=64):
    """Two 8-bit prototypes with 5% bit flips."""
    rng = np.random.RandomState(0)
    proto = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1, 0, 0]])
    x = proto[rng.randint(0, 2, n)]
    flips = rng.rand(*x.shape) < 0.05
    return np.where(flips, 1 - x, x).astype("float32")


def _log_likelihood(rbm, x):
    vs = np.array(list(itertools.product([0, 1], repeat=x.shape[1])), "f4")
    log_z = logsumexp(-np.asarray(rbm.free_energy(vs), "float64"))
    return float(np.mean(-np.asarray(rbm.free_energy(x)) - log_z))


class RBMTrainerTest(TestCase):
    def test_cd_training_raises_the_exact_log_likelihood(self):
        x = _patterns()
        rbm = RBM(4, cd_k=1, seed=0)
        trainer = dbn.RBMTrainer(rbm)
        trainer.compile(keras.optimizers.SGD(0.1, momentum=0.5))
        trainer(x[:1])
        before = _log_likelihood(rbm, x)
        history = trainer.fit(x, epochs=30, batch_size=8, verbose=0)
        after = _log_likelihood(rbm, x)
        # Uniform model: -8 log 2 = -5.5 nats; the data's entropy is ~2.3.
        self.assertLess(before, -5.0)
        self.assertGreater(after, before + 1.5)
        recon = history.history["reconstruction_error"]
        self.assertLess(recon[-1], 0.5 * recon[0])
        self.assertIn("free_energy_gap", history.history)
        logs = trainer.evaluate(x, verbose=0, return_dict=True)
        self.assertIn("reconstruction_error", logs)

    def test_save_load_and_mirrored_fit(self):
        x = _patterns(32)
        strategy = two_replica_strategy()
        with strategy.scope():
            trainer = dbn.RBMTrainer(RBM(3, seed=1))
            trainer.compile(keras.optimizers.SGD(0.1))
        history = trainer.fit(x, epochs=2, batch_size=8, verbose=0)
        self.assertTrue(np.isfinite(history.history["free_energy_gap"]).all())
        path = os.path.join(self.get_temp_dir(), "rbm.keras")
        trainer.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(loaded(x), trainer(x), atol=1e-6)
        with self.assertRaisesRegex(ValueError, "rbm"):
            dbn.RBMTrainer(keras.layers.Dense(3))


class GreedyPretrainingTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.RandomState(0)
        self.x = rng.rand(64, 10).astype("float32")
        self.y = (self.x[:, 0] > 0.5).astype("int32")

    def test_pretrain_dbn_stacks_rbms_on_hidden_probabilities(self):
        seen = []
        rbms, histories = dbn.pretrain_dbn(
            self.x,
            [6, 4],
            epochs=2,
            batch_size=16,
            callbacks_fn=lambda name: seen.append(name) or [],
        )
        self.assertEqual([r.kernel.shape for r in rbms], [(10, 6), (6, 4)])
        self.assertEqual(seen, ["rbm_0", "rbm_1"])
        self.assertEqual(len(histories[1]["reconstruction_error"]), 2)
        model = dbn.build_deep_classifier(10, [6, 4], 2, init=rbms)
        self.assertAllClose(model.get_layer("hidden_1").kernel, rbms[1].kernel)
        self.assertAllClose(
            model.get_layer("hidden_0").bias, rbms[0].hidden_bias
        )

    def test_denoising_and_supervised_pretraining(self):
        weights, hist = dbn.pretrain_denoising_autoencoders(
            self.x, [5, 3], corruption=0.3, epochs=3, batch_size=16
        )
        self.assertEqual([w[0].shape for w in weights], [(10, 5), (5, 3)])
        self.assertLess(hist[0]["loss"][-1], hist[0]["loss"][0])
        sup, _ = dbn.pretrain_supervised(
            self.x, self.y, [5], num_classes=2, epochs=2
        )
        model = dbn.build_deep_classifier(
            10, [5, 3], 2, init=[sup[0], weights[1]]
        )
        self.assertAllClose(model.get_layer("hidden_0").kernel, sup[0][0])
        self.assertEqual(model.output_shape, (None, 2))

    def test_masking_noise_zeroes_without_rescaling(self):
        layer = dbn._MaskingNoise(0.5, seed=0)
        out = np.asarray(layer(np.ones((100, 100)), training=True))
        self.assertTrue(set(np.unique(out)) <= {0.0, 1.0})
        self.assertAlmostEqual(out.mean(), 0.5, delta=0.03)
        self.assertAllEqual(layer(np.ones((2, 2))), np.ones((2, 2)))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "layer_sizes"):
            dbn.pretrain_dbn(self.x, [])
        with self.assertRaisesRegex(ValueError, "corruption"):
            dbn.pretrain_denoising_autoencoders(self.x, [3], corruption=1.0)
        with self.assertRaisesRegex(ValueError, "init"):
            dbn.build_deep_classifier(10, [3], 2, init=[])
