"""RBMTrainer: CD-k raises the exact likelihood; save/load; mirrored fit."""

import contextlib
import itertools
import os

import keras
import numpy as np
from scipy.special import logsumexp

from kdl.layers.rbm import RBM
from kdl.models.rbm_trainer import RBMTrainer
from tests.test_case import TestCase
from tests.test_case import backend
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
        trainer = RBMTrainer(rbm)
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
        # tf.distribute on TensorFlow; one device on JAX.
        if backend() == "tensorflow":
            scope = two_replica_strategy().scope()
        else:
            scope = contextlib.nullcontext()
        with scope:
            trainer = RBMTrainer(RBM(3, seed=1))
            trainer.compile(keras.optimizers.SGD(0.1))
        history = trainer.fit(x, epochs=2, batch_size=8, verbose=0)
        self.assertTrue(np.isfinite(history.history["free_energy_gap"]).all())
        path = os.path.join(self.get_temp_dir(), "rbm.keras")
        trainer.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(loaded(x), trainer(x), atol=1e-6)
        with self.assertRaisesRegex(ValueError, "rbm"):
            RBMTrainer(keras.layers.Dense(3))
