"""The BN-LSTM cell against a NumPy reference (Cooijmans et al. 2016)."""

import keras
import numpy as np
import pytest
from keras import ops

from kdl.layers import BNLSTMCell
from tests.layers.batch_norm_testing import TF_DISTRIBUTE
from tests.layers.batch_norm_testing import local_values
from tests.layers.batch_norm_testing import two_replica_training_call
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import gradients
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy

EPS = 1e-3
# On JAX the cell's moving statistics are updated only in an unrolled RNN
# (see the BNLSTMCell docstring): a `lax.scan` cannot assign variables.
UNROLL = {"unroll": True} if backend() == "jax" else {}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_bnlstm(x, kernel, recurrent, bias, gammas, beta_c, eps=EPS):
    """Cooijmans et al. 2016, eq. 6-8, training mode (batch statistics)."""

    def bn(z, gamma, beta=0.0):
        return gamma * (z - z.mean(0)) / np.sqrt(z.var(0) + eps) + beta

    batch, steps, _ = x.shape
    units = recurrent.shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    outputs = []
    for t in range(steps):
        z = (
            bn(h @ recurrent, gammas[1])
            + bn(x[:, t] @ kernel, gammas[0])
            + bias
        )
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(bn(c, gammas[2], beta_c))
        outputs.append(h)
    return np.stack(outputs, 1)


@keras.saving.register_keras_serializable(package="kdl_tests")
class BNLSTM(keras.layers.RNN):
    """`RNN(BNLSTMCell(...))` with the cell's arguments, for the layer test."""

    def __init__(self, units, max_steps, **kwargs):
        super().__init__(BNLSTMCell(units, max_steps), **kwargs)
        self.units = units
        self.max_steps = max_steps

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        return {**config, "units": self.units, "max_steps": self.max_steps}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class BNLSTMCellTest(TestCase):
    @pytest.mark.slow  # XLA-compiles the RNN loop several times (~2 min)
    def test_layer(self):
        x = np.random.RandomState(10).normal(size=(4, 5, 3)).astype("float32")
        self.run_layer_test(
            BNLSTM,
            {"units": 6, "max_steps": 4, "return_sequences": True, **UNROLL},
            x,
            expected_output_shape=(4, 5, 6),
            # kernel, recurrent kernel, bias, 3 gammas, beta_c
            expected_num_trainable_weights=7,
            expected_num_non_trainable_weights=6,
        )

    def test_equals_numpy_reference(self):
        rng = np.random.RandomState(1)
        x = rng.normal(size=(6, 4, 3)).astype("float32")
        cell = BNLSTMCell(5, max_steps=4)
        layer = keras.layers.RNN(cell, return_sequences=True)
        got = layer(x, training=True)
        self.assertAllClose(cell.input_norm.gamma, np.full(20, 0.1))
        bias = np.asarray(cell.bias)
        self.assertAllClose(bias[5:10], np.ones(5))  # unit forget bias
        want = numpy_bnlstm(
            x,
            np.asarray(cell.kernel),
            np.asarray(cell.recurrent_kernel),
            bias,
            [0.1, 0.1, 0.1],
            0.0,
        )
        self.assertAllClose(got, want, atol=1e-5)

    def test_shapes_states_and_gradients(self):
        x = np.random.RandomState(2).normal(size=(3, 7, 4)).astype("float32")
        cell = BNLSTMCell(8, max_steps=5, momentum=0.0)
        layer = keras.layers.RNN(
            cell, return_sequences=True, return_state=True, **UNROLL
        )
        layer.build(x.shape)

        def loss(xt):
            out, h, c, counter = layer(xt, training=True)
            return ops.sum(out**2), (out, h, c, counter)

        (_, (out, h, c, counter)), grads = gradients(
            loss,
            [x],
            layer.trainable_weights,
            has_aux=True,
            updates=layer.non_trainable_weights,
        )
        self.assertEqual(tuple(out.shape), (3, 7, 8))
        self.assertEqual(tuple(h.shape), (3, 8))
        self.assertEqual(tuple(c.shape), (3, 8))
        self.assertAllEqual(counter, np.full((3, 1), 7))
        self.assertEqual(len(grads), 8)
        for g in grads:
            self.assertIsNotNone(g)
            self.assertTrue(np.all(np.isfinite(np.asarray(g))))
            self.assertGreater(np.abs(np.asarray(g)).max(), 0.0)
        # Statistics of the 5 first steps were recorded, per step.
        moving = np.asarray(cell.input_norm.moving_mean)
        want = (x @ np.asarray(cell.kernel)).mean(0)[:5]
        self.assertAllClose(moving, want, atol=1e-5)
        # Inference: moving statistics, and momentum 0 => same as training
        # on the steps that have their own statistics.
        infer = layer(x, training=False)[0]
        self.assertAllClose(np.asarray(infer)[:, :5], out[:, :5], atol=1e-4)

    def test_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        x = np.random.RandomState(3).normal(size=(4, 5, 3))
        cell = BNLSTMCell(6, max_steps=5)
        out = keras.layers.RNN(cell)(x.astype("float32"), training=True)
        self.assertEqual(out.dtype, "bfloat16")
        for w in cell.weights:
            self.assertEqual(w.dtype, "float32")

    @pytest.mark.slow
    @skip_unless_tensorflow(TF_DISTRIBUTE)
    def test_synchronized_unrolled_equals_single_replica(self):
        rng = np.random.RandomState(4)
        x = rng.normal(size=(8, 3, 2)).astype("float32")
        x[4:] += 2.0

        def make(sync):
            keras.utils.set_random_seed(0)
            return keras.layers.RNN(
                BNLSTMCell(4, max_steps=3, momentum=0.0, synchronized=sync),
                return_sequences=True,
                unroll=True,
            )

        single = make(False)
        want = single(x, training=True)
        two_replica_strategy()
        layer, got = two_replica_training_call(lambda: make(True), x)
        self.assertAllClose(got, want, atol=1e-5)
        for norm in ("input_norm", "recurrent_norm", "cell_norm"):
            ref = getattr(single.cell, norm).moving_mean
            for values in local_values(getattr(layer.cell, norm).moving_mean):
                self.assertAllClose(values, ref, atol=1e-5, msg=norm)

    def test_serialization(self):
        cell = BNLSTMCell(4, max_steps=3, momentum=0.9, synchronized=True)
        config = cell.get_config()
        revived = BNLSTMCell.from_config(config)
        self.assertEqual(revived.get_config(), config)
        self.assertEqual(revived.max_steps, 3)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "units"):
            BNLSTMCell(0, max_steps=3)
        with self.assertRaisesRegex(ValueError, "max_steps"):
            BNLSTMCell(4, max_steps=-3)
