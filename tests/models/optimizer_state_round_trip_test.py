"""Optimizer state survives `.keras` for every model with its own step.

Fit, save, reload, fit two more steps == fit two more steps without the
round trip: the weights and every optimizer variable (Adam moments,
iteration counts, the loss-scale state) agree. GLO's code optimizer has
its own test (tests/models/glo_test.py, `test_save_load_keeps_codes...`).
"""

import os

import keras
import numpy as np
from absl.testing import parameterized

import kdl
from kdl.datasets.tbptt import tbptt_batches
from kdl.layers import RBM
from kdl.models import RBMTrainer
from kdl.models.seq2seq import Seq2Seq
from kdl.models.seq2seq_attention import Seq2SeqAttention
from tests.models import nat_test
from tests.models import seq2seq_testing
from tests.test_case import TestCase


def _lm_ids(n=400):
    ids = (np.arange(n) % 5 + 2).astype("int32")
    ids[::7] = 9
    return ids


def language_model(softmax):
    def make():
        model = kdl.models.RNNLanguageModel(
            12, "scrn", 8, 4, embedding_dim=8, softmax=softmax,
            cutoffs=[4, 8] if softmax == "adaptive" else None,
        )  # fmt: skip
        model.compile(
            keras.optimizers.Adam(1e-2),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    x, y = tbptt_batches(_lm_ids(), 4, 8)
    return make, dict(x=x.reshape(-1, 8), y=y.reshape(-1, 8), batch_size=4)


def feed_forward_lm():
    def make():
        model = kdl.models.FeedForwardLM(
            12, order=3, embedding_dim=8, hidden_units=8,
            softmax="adaptive", cutoffs=[4, 8],
        )  # fmt: skip
        model.compile(keras.optimizers.Adam(1e-2))
        return model

    # 416 windows: whole batches of 32.
    contexts, targets = kdl.datasets.ngram_windows(_lm_ids(418), 3)
    return make, dict(
        x=np.asarray(contexts), y=np.asarray(targets), batch_size=32
    )


def seq2seq(cls):
    def make():
        model = seq2seq_testing.small_model(cls, cell="gru")
        model.compile(
            keras.optimizers.Adam(1e-2),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    target_in, target_out = seq2seq_testing.target_batch()
    source = seq2seq_testing.source_batch()
    return make, dict(x=(source, target_in), y=target_out, batch_size=2)


def nat():
    def make():
        return nat_test.make(reassign_every=1)

    x = nat_test.images()
    return make, dict(x=np.arange(len(x), dtype="int32"), y=x, batch_size=16)


def rbm():
    def make():
        trainer = RBMTrainer(RBM(3, seed=1))
        trainer.compile(keras.optimizers.SGD(0.1, momentum=0.5))
        return trainer

    x = (np.random.RandomState(0).rand(32, 6) > 0.5).astype("float32")
    return make, dict(x=x, batch_size=8)


CASES = {
    "lm_full": lambda: language_model("full"),
    "lm_adaptive": lambda: language_model("adaptive"),
    "feed_forward_lm": feed_forward_lm,
    "seq2seq": lambda: seq2seq(Seq2Seq),
    "seq2seq_attention": lambda: seq2seq(Seq2SeqAttention),
    "nat": nat,
    "rbm_trainer": rbm,
}


class OptimizerStateRoundTripTest(TestCase, parameterized.TestCase):
    def assert_same_state(self, name, model, loaded):
        for a, b in zip(model.weights, loaded.weights, strict=True):
            self.assertAllClose(a, b, atol=1e-6, msg=f"{name}: {a.path}")
        self.assertGreater(len(model.optimizer.variables), 2)  # slots too
        for a, b in zip(
            model.optimizer.variables, loaded.optimizer.variables, strict=True
        ):
            self.assertAllClose(a, b, atol=1e-6, msg=f"{name}: {a.path}")

    @parameterized.named_parameters((name, name) for name in CASES)
    def test_fit_save_load_fit_equals_fit(self, name):
        make, data = CASES[name]()
        keras.utils.set_random_seed(0)
        model = make()
        model.fit(**data, epochs=1, shuffle=False, verbose=0)
        path = os.path.join(self.get_temp_dir(), f"{name}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertEqual(type(loaded), type(model))
        self.assert_same_state(name, model, loaded)
        if name == "rbm_trainer":
            # Known gap: Keras does not save a SeedGenerator's state, so
            # the reloaded RBM's Gibbs sampler restarts from its seed and
            # the next CD steps draw other samples.
            return
        # Two more steps (two batches), from the same seed for both.
        size = data["batch_size"]
        head = {
            k: _head(v, 2 * size) for k, v in data.items() if k != "batch_size"
        }
        for m in (model, loaded):
            keras.utils.set_random_seed(1)
            m.fit(**head, batch_size=size, epochs=1, shuffle=False, verbose=0)
        self.assert_same_state(name, model, loaded)


def _head(x, n):
    if isinstance(x, tuple):
        return tuple(part[:n] for part in x)
    return x[:n]
