"""Precise population statistics: equal-weight averages of batch statistics.

The expected statistics are computed with NumPy from the inputs and the
weights (batch norm, its kdl variants and a BN-LSTM written out from their
equations in training mode), never read back from the layers.
"""

import math
import re
import unittest

import keras
import numpy as np
import tensorflow as tf

from kdl.layers import BatchRenormalization
from kdl.layers import BNLSTMCell
from kdl.layers import GhostBatchNormalization
from kdl.layers import L1BatchNormalization
from kdl.models import PopulationStatistics
from kdl.models import estimate_population_statistics
from tests.test_case import TestCase
from tests.test_case import backend

EPSILON = 1e-3  # the layers' default


def _numpy(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _normalize(x, gamma, beta=0.0, epsilon=EPSILON):
    mean, variance = x.mean(0), x.var(0)
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def _bn_lstm_statistics(cell, x):
    """Per-step batch (mean, variance) of BN-LSTM's three normalizations.

    The training-mode forward pass of Cooijmans et al. (2016) in NumPy:
    each of `W_x x_t`, `W_h h_{t-1}` and `c_t` normalized with its batch
    statistics of step t.
    """
    kernel = _numpy(cell.kernel)
    recurrent = _numpy(cell.recurrent_kernel)
    bias = _numpy(cell.bias)
    gamma_x = _numpy(cell.input_norm.gamma)
    gamma_h = _numpy(cell.recurrent_norm.gamma)
    gamma_c = _numpy(cell.cell_norm.gamma)
    beta_c = _numpy(cell.cell_norm.beta)
    h = np.zeros((x.shape[0], cell.units))
    c = np.zeros((x.shape[0], cell.units))
    stats = {"input_norm": [], "recurrent_norm": [], "cell_norm": []}
    for t in range(x.shape[1]):
        x_term = x[:, t] @ kernel
        h_term = h @ recurrent
        stats["input_norm"].append((x_term.mean(0), x_term.var(0)))
        stats["recurrent_norm"].append((h_term.mean(0), h_term.var(0)))
        z = _normalize(x_term, gamma_x) + _normalize(h_term, gamma_h) + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        stats["cell_norm"].append((c.mean(0), c.var(0)))
        h = _sigmoid(o) * np.tanh(_normalize(c, gamma_c, beta_c))
    return stats


def _chain_model():
    """BN -> Dense -> BN, with non-trivial gamma/beta and momentum 0.9."""
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.BatchNormalization(momentum=0.9, name="bn1"),
            keras.layers.Dense(3, name="dense"),
            keras.layers.BatchNormalization(momentum=0.9, name="bn2"),
        ]
    )
    rng = np.random.default_rng(1)
    bn1 = model.get_layer("bn1")
    bn1.gamma.assign(rng.uniform(0.5, 2.0, 4).astype("float32"))
    bn1.beta.assign(rng.normal(size=4).astype("float32"))
    return model


def _chain_statistics(model, batches):
    """Per-batch (mean, variance) of bn1's and bn2's inputs, in NumPy."""
    bn1 = model.get_layer("bn1")
    dense = model.get_layer("dense")
    gamma, beta = _numpy(bn1.gamma), _numpy(bn1.beta)
    kernel, bias = _numpy(dense.kernel), _numpy(dense.bias)
    first, second = [], []
    for x in batches:
        first.append((x.mean(0), x.var(0)))
        hidden = _normalize(x, gamma, beta) @ kernel + bias
        second.append((hidden.mean(0), hidden.var(0)))
    return first, second


def _average(stats):
    means, variances = zip(*stats)
    return np.mean(means, 0), np.mean(variances, 0)


class EstimatePopulationStatisticsTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        scale = np.array([1.0, 2.0, 3.0, 0.5])
        self.x = (rng.normal(size=(26, 4)) * scale + 1.0).astype("float32")

    def assertStatistics(self, layer, expected, rtol=1e-4, atol=1e-6):
        mean, variance = expected
        self.assertAllClose(layer.moving_mean, mean, rtol=rtol, atol=atol)
        self.assertAllClose(
            layer.moving_variance, variance, rtol=rtol, atol=atol
        )

    def test_batch_norm_chain_gets_the_mean_of_batch_statistics(self):
        model = _chain_model()
        data = tf.data.Dataset.from_tensor_slices(self.x[:24]).batch(8)
        result = estimate_population_statistics(model, data, batches=3)
        first, second = _chain_statistics(model, self.x[:24].reshape(3, 8, 4))
        self.assertStatistics(model.get_layer("bn1"), _average(first))
        # bn2's inputs come from bn1 in training mode (batch statistics).
        self.assertStatistics(model.get_layer("bn2"), _average(second))
        self.assertEqual(result["batches"], 3)
        self.assertEqual(
            [path.split("/")[-1] for path in result["layers"]], ["bn1", "bn2"]
        )
        self.assertEqual(result["unchanged"], [])

        # Fewer batches than the dataset has: only the first two count.
        estimate_population_statistics(model, data, batches=2)
        self.assertStatistics(model.get_layer("bn1"), _average(first[:2]))

    def test_arrays_are_cut_into_full_batches(self):
        model = _chain_model()
        y = np.zeros((26, 3), "float32")
        # 26 rows, batch 8: three full batches, the last 2 rows left out.
        result = estimate_population_statistics(
            model, (self.x, y), batches=10, batch_size=8, shuffle=False
        )
        self.assertEqual(result["batches"], 3)
        first, _ = _chain_statistics(model, self.x[:24].reshape(3, 8, 4))
        self.assertStatistics(model.get_layer("bn1"), _average(first))

        # Shuffled: batches from NumPy's global permutation.
        np.random.seed(7)
        order = np.random.permutation(26)[:16]
        np.random.seed(7)
        estimate_population_statistics(model, self.x, batches=2, batch_size=8)
        first, _ = _chain_statistics(model, self.x[order].reshape(2, 8, 4))
        self.assertStatistics(model.get_layer("bn1"), _average(first))

    def test_a_seed_draws_the_same_batches_whatever_numpy_did(self):
        model = _chain_model()
        bn1 = model.get_layer("bn1")

        def estimate(seed, global_seed, shuffle=True):
            # The same starting state each time, and another global state.
            for variable, value in zip(model.non_trainable_variables, start):
                variable.assign(value)
            np.random.seed(global_seed)
            estimate_population_statistics(
                model,
                self.x,
                batches=2,
                batch_size=8,
                shuffle=shuffle,
                seed=seed,
            )
            return np.concatenate(
                [_numpy(v) for v in model.non_trainable_variables]
            )

        start = [_numpy(v) for v in model.non_trainable_variables]
        seeded = estimate(5, global_seed=0)
        self.assertAllEqual(estimate(5, global_seed=1), seeded)
        # The batches of `np.random.default_rng(seed)`'s permutation.
        order = np.random.default_rng(5).permutation(26)[:16]
        first, second = _chain_statistics(model, self.x[order].reshape(2, 8, 4))
        self.assertStatistics(bn1, _average(first))
        self.assertStatistics(model.get_layer("bn2"), _average(second))

        other = estimate(6, global_seed=0)
        self.assertFalse(np.allclose(other, seeded))
        # Without shuffling the seed changes nothing: rows in order.
        estimate(5, global_seed=0, shuffle=False)
        first, _ = _chain_statistics(model, self.x[:16].reshape(2, 8, 4))
        self.assertStatistics(bn1, _average(first))

        # Only arrays take a seed; it is validated like every argument.
        data = tf.data.Dataset.from_tensor_slices(self.x).batch(8)
        with self.assertRaisesRegex(ValueError, "`seed`.*seed=3"):
            estimate_population_statistics(model, data, seed=3)
        with self.assertRaisesRegex(ValueError, "`seed`.*seed=3"):
            PopulationStatistics(data, seed=3)
        for bad in (-1, 1.5, True, "a"):
            message = "`seed`.*Received: " + re.escape(f"seed={bad!r}")
            with self.assertRaisesRegex(ValueError, message):
                estimate_population_statistics(
                    model, self.x, batch_size=8, seed=bad
                )
            with self.assertRaisesRegex(ValueError, message):
                PopulationStatistics(self.x, batch_size=8, seed=bad)

    def test_bn_lstm_rows_average_over_the_batches_that_reach_them(self):
        # T=5 then T=3 with max_steps=7: rows 0-2 are the mean of two
        # batches, rows 3-4 come from the first batch alone, rows 5-6 are
        # written by neither and keep their values.
        cell = BNLSTMCell(3, max_steps=7, momentum=0.9)
        unroll = backend() == "jax"  # lax.scan cannot assign variables
        model = keras.Sequential(
            [keras.Input((None, 2)), keras.layers.RNN(cell, unroll=unroll)]
        )
        rng = np.random.default_rng(2)
        norms = ("input_norm", "recurrent_norm", "cell_norm")
        before = {}
        for name in norms:
            norm = getattr(cell, name)
            shape = norm.moving_mean.shape
            before[name] = (
                rng.normal(size=shape).astype("float32"),
                rng.uniform(1, 2, shape).astype("float32"),
            )
            norm.moving_mean.assign(before[name][0])
            norm.moving_variance.assign(before[name][1])
        long = rng.normal(size=(4, 5, 2)).astype("float32")
        short = rng.normal(size=(4, 3, 2)).astype("float32")
        data = tf.data.Dataset.from_tensors(long).concatenate(
            tf.data.Dataset.from_tensors(short)
        )
        result = estimate_population_statistics(model, data, batches=5)
        self.assertEqual(result["batches"], 2)
        self.assertLen(result["layers"], 3)

        stats_long = _bn_lstm_statistics(cell, long)
        stats_short = _bn_lstm_statistics(cell, short)
        for name in norms:
            norm = getattr(cell, name)
            for k, variable in enumerate(
                (norm.moving_mean, norm.moving_variance)
            ):
                expected = before[name][k].astype("float64")
                for t in range(5):
                    values = [stats_long[name][t][k]]
                    if t < 3:
                        values.append(stats_short[name][t][k])
                    expected[t] = np.mean(values, 0)
                self.assertAllClose(
                    variable, expected, rtol=1e-4, atol=1e-6, msg=name
                )
            self.assertEqual(norm.momentum, 0.9)

    def test_kdl_variants_and_keras_renorm(self):
        rng = np.random.default_rng(3)
        x = (rng.normal(size=(16, 4)) * [1.0, 2.0, 3.0, 0.5]).astype("float32")
        batches = x.reshape(2, 8, 4)
        data = tf.data.Dataset.from_tensor_slices(x).batch(8)

        def estimate(layer):
            model = keras.Sequential([keras.Input((4,)), layer])
            estimate_population_statistics(model, data, batches=2)
            return layer

        ghost = estimate(GhostBatchNormalization(4, momentum=0.9))
        ghosts = batches.reshape(2, 2, 4, 4)  # 2 batches of 2 ghost batches
        self.assertAllClose(ghost.moving_mean, batches.mean(1).mean(0))
        self.assertAllClose(
            ghost.moving_variance, ghosts.var(2).mean((0, 1)), rtol=1e-5
        )

        l1 = estimate(L1BatchNormalization(momentum=0.9))
        deviation = np.abs(batches - batches.mean(1, keepdims=True)).mean(1)
        self.assertAllClose(l1.moving_mean, batches.mean(1).mean(0))
        self.assertAllClose(
            l1.moving_stddev,
            math.sqrt(math.pi / 2) * deviation.mean(0),
            rtol=1e-5,
        )

        stddev = np.sqrt(batches.var(1) + EPSILON).mean(0)
        keras_renorm = keras.layers.BatchNormalization(
            momentum=0.9, renorm=True
        )
        keras.Sequential([keras.Input((4,)), keras_renorm])
        keras_renorm.renorm_mean.assign(np.full(4, 0.25, "float32"))
        estimate(keras_renorm)
        self.assertAllClose(keras_renorm.moving_mean, batches.mean(1).mean(0))
        self.assertAllClose(keras_renorm.moving_stddev, stddev, rtol=1e-5)
        self.assertAllClose(
            keras_renorm.moving_variance, stddev**2 - EPSILON, rtol=1e-5
        )
        self.assertAllClose(keras_renorm.renorm_mean, np.full(4, 0.25))
        self.assertAllClose(keras_renorm.renorm_stddev, np.ones(4))

    def test_kdl_renorm_corrects_with_its_training_statistics(self):
        # renorm -> Dense -> BN: every pass must correct with the renorm
        # layer's statistics from before the estimate (not the previous
        # batch's), so bn's inputs are those of training; `step` is kept.
        renorm = BatchRenormalization(
            warmup_steps=0, rmax_steps=0, dmax_steps=0, momentum=0.9
        )
        model = keras.Sequential(
            [
                keras.Input((4,)),
                renorm,
                keras.layers.Dense(3),
                keras.layers.BatchNormalization(momentum=0.9),
            ]
        )
        mu = np.array([0.5, -1.0, 2.0, 0.0], "float32")
        sigma = np.array([2.0, 0.5, 1.0, 4.0], "float32")
        renorm.moving_mean.assign(mu)
        renorm.moving_stddev.assign(sigma)
        renorm.step.assign(7.0)
        batches = self.x[:16].reshape(2, 8, 4)
        data = tf.data.Dataset.from_tensor_slices(self.x[:16]).batch(8)
        estimate_population_statistics(model, data, batches=2)

        kernel, bias = (_numpy(w) for w in model.layers[1].weights)
        hidden = []
        for x in batches:
            mean, std = x.mean(0), np.sqrt(x.var(0) + EPSILON)
            r = np.clip(std / sigma, 1 / 3, 3)
            d = np.clip((mean - mu) / sigma, -5, 5)
            y = (x - mean) / std * r + d  # gamma 1, beta 0
            hidden.append(y @ kernel + bias)
        hidden = np.stack(hidden)
        self.assertAllClose(renorm.moving_mean, batches.mean(1).mean(0))
        self.assertAllClose(
            renorm.moving_stddev,
            np.sqrt(batches.var(1) + EPSILON).mean(0),
            rtol=1e-5,
        )
        self.assertStatistics(
            model.layers[2], (hidden.mean(1).mean(0), hidden.var(1).mean(0))
        )
        self.assertEqual(float(_numpy(renorm.step)), 7.0)

    def test_keras_renorm_corrects_with_its_training_statistics(self):
        # Keras renorm -> Dense -> BN. In training Keras corrects with its
        # renorm statistics, which renorm_momentum=0.5 moves far at each
        # pass: every pass must correct with those from before the
        # estimate, so bn's inputs are those the trained network saw.
        renorm = keras.layers.BatchNormalization(
            momentum=0.9, renorm=True, renorm_momentum=0.5
        )
        model = keras.Sequential(
            [
                keras.Input((4,)),
                renorm,
                keras.layers.Dense(3),
                keras.layers.BatchNormalization(momentum=0.9),
            ]
        )
        gamma = np.array([1.5, 0.5, 2.0, 1.0], "float32")
        beta = np.array([0.1, -0.2, 0.3, 0.0], "float32")
        mu = np.array([0.5, -1.0, 2.0, 0.0], "float32")
        # The last one is below Keras's floor sqrt(epsilon).
        sigma = np.array([2.0, 0.5, 1.0, 0.02], "float32")
        renorm.gamma.assign(gamma)
        renorm.beta.assign(beta)
        renorm.renorm_mean.assign(mu)
        renorm.renorm_stddev.assign(sigma)
        batches = self.x[:24].reshape(3, 8, 4)
        data = tf.data.Dataset.from_tensor_slices(self.x[:24]).batch(8)
        estimate_population_statistics(model, data, batches=3)

        # Keras 3.15's training pass: renorm_clipping defaults to {} (r
        # and d unclipped), the renorm stddev is floored at sqrt(epsilon),
        # and batch_normalization scales (x - mean) / sqrt(var + epsilon)
        # by r * gamma and shifts it by d * gamma + beta.
        kernel, bias = (_numpy(w) for w in model.layers[1].weights)
        floored = np.maximum(sigma, np.sqrt(EPSILON))
        hidden = []
        for x in batches:
            mean, std = x.mean(0), np.sqrt(x.var(0) + EPSILON)
            r = std / floored
            d = (mean - mu) / floored
            y = (x - mean) / std * (r * gamma) + (d * gamma + beta)
            hidden.append(y @ kernel + bias)
        hidden = np.stack(hidden)
        self.assertStatistics(
            model.layers[2], (hidden.mean(1).mean(0), hidden.var(1).mean(0))
        )
        self.assertAllClose(renorm.moving_mean, batches.mean(1).mean(0))
        self.assertAllClose(
            renorm.moving_stddev,
            np.sqrt(batches.var(1) + EPSILON).mean(0),
            rtol=1e-5,
        )
        self.assertAllClose(renorm.renorm_mean, mu)
        self.assertAllClose(renorm.renorm_stddev, sigma)

    def test_momentum_weights_and_compiled_fit_are_unchanged(self):
        model = _chain_model()
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
        y = np.zeros((8, 3), "float32")
        # Trace the train function with the real momentum first.
        model.fit(self.x[:8], y, batch_size=8, epochs=1, verbose=0)
        weights = [_numpy(w) for w in model.trainable_weights]

        data = tf.data.Dataset.from_tensor_slices(self.x[8:24]).batch(8)
        estimate_population_statistics(model, data, batches=2)
        for layer in model.layers[::2]:
            self.assertEqual(layer.momentum, 0.9)
        for before, after in zip(weights, model.trainable_weights):
            self.assertAllEqual(after, before)

        # The compiled step still updates with momentum 0.9 (0 would copy
        # the batch statistics).
        bn1 = model.get_layer("bn1")
        mean, variance = _numpy(bn1.moving_mean), _numpy(bn1.moving_variance)
        batch = self.x[18:26]
        model.fit(batch, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        self.assertStatistics(
            bn1,
            (
                0.9 * mean + 0.1 * batch.mean(0),
                0.9 * variance + 0.1 * batch.var(0),
            ),
        )

    def test_a_failing_pass_restores_momentum_and_statistics(self):
        model = _chain_model()
        bn1 = model.get_layer("bn1")
        bn1.moving_mean.assign(np.full(4, 0.5, "float32"))
        wrong = tf.data.Dataset.from_tensor_slices(np.ones((8, 5))).batch(8)
        with self.assertRaises(Exception):
            estimate_population_statistics(model, wrong, batches=1)
        self.assertEqual(bn1.momentum, 0.9)
        self.assertAllClose(bn1.moving_mean, np.full(4, 0.5))
        self.assertAllClose(bn1.moving_variance, np.ones(4))

    def test_bad_arguments_raise_value_errors(self):
        model = _chain_model()
        data = tf.data.Dataset.from_tensor_slices(self.x).batch(8)
        for batches in (0, -1, 1.5, True):
            with self.assertRaisesRegex(ValueError, "batches"):
                estimate_population_statistics(model, data, batches=batches)
        with self.assertRaisesRegex(ValueError, "batch_size=None"):
            estimate_population_statistics(model, self.x)
        with self.assertRaisesRegex(ValueError, "batch_size=8"):
            estimate_population_statistics(model, data, batch_size=8)
        with self.assertRaisesRegex(ValueError, "shuffle"):
            estimate_population_statistics(
                model, self.x, batch_size=8, shuffle="yes"
            )
        for bad in ("abc", None, 5):
            with self.assertRaisesRegex(ValueError, "data"):
                estimate_population_statistics(model, bad, batch_size=8)
        with self.assertRaisesRegex(ValueError, "data"):
            estimate_population_statistics(
                model, [self.x, self.x[:3]], batch_size=8
            )
        with self.assertRaisesRegex(ValueError, "data"):
            estimate_population_statistics(model, data.take(0))

        dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        with self.assertRaisesRegex(ValueError, "model="):
            estimate_population_statistics(dense, data)
        with self.assertRaisesRegex(ValueError, "model="):
            estimate_population_statistics("model", data)
        frozen = _chain_model()
        frozen.trainable = False
        with self.assertRaisesRegex(ValueError, "frozen.*model="):
            estimate_population_statistics(frozen, data)
        unbuilt = keras.Sequential([keras.layers.BatchNormalization()])
        with self.assertRaisesRegex(ValueError, "built.*model="):
            estimate_population_statistics(unbuilt, data)

    @unittest.skipIf(backend() != "jax", "the limit is JAX's lax.scan")
    def test_jax_needs_an_unrolled_rnn(self):
        model = keras.Sequential(
            [keras.Input((3, 2)), keras.layers.RNN(BNLSTMCell(2, 3))]
        )
        data = tf.data.Dataset.from_tensors(np.ones((2, 3, 2), "float32"))
        with self.assertRaisesRegex(ValueError, "unroll=True"):
            estimate_population_statistics(model, data)


class PopulationStatisticsCallbackTest(TestCase):
    def test_validation_sees_precise_statistics_without_recursion(self):
        rng = np.random.default_rng(4)
        x_train = rng.normal(size=(32, 4)).astype("float32")
        y_train = rng.normal(size=(32, 1)).astype("float32")
        x_estimate = (rng.normal(size=(16, 4)) * 3 + 2).astype("float32")
        batches = x_estimate.reshape(2, 8, 4)
        expected = (batches.mean(1).mean(0), batches.var(1).mean(0))

        bn = keras.layers.BatchNormalization(momentum=0.9)
        model = keras.Sequential([keras.Input((4,)), bn, keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        precise = PopulationStatistics(
            x_estimate, batches=2, batch_size=8, shuffle=False
        )
        seen = []

        class Probe(keras.callbacks.Callback):
            def on_test_begin(self, logs=None):
                seen.append(
                    (_numpy(bn.moving_mean), _numpy(bn.moving_variance))
                )

        model.fit(
            x_train,
            y_train,
            batch_size=8,
            epochs=2,
            validation_data=(x_train[:8], y_train[:8]),
            callbacks=[precise, Probe()],
            verbose=0,
        )
        # One estimate per validation pass, none triggered by the estimate.
        self.assertLen(seen, 2)
        self.assertLen(precise.results, 2)
        for mean, variance in seen:
            self.assertAllClose(mean, expected[0], rtol=1e-5)
            self.assertAllClose(variance, expected[1], rtol=1e-4)

        # when="train_end": once, after the last training step.
        at_end = PopulationStatistics(
            x_estimate, batches=1, batch_size=8, shuffle=False, when="train_end"
        )
        model.fit(x_train, y_train, batch_size=8, verbose=0, callbacks=[at_end])
        self.assertLen(at_end.results, 1)
        self.assertAllClose(bn.moving_mean, batches[0].mean(0), rtol=1e-5)
        self.assertAllClose(bn.moving_variance, batches[0].var(0), rtol=1e-4)
        self.assertEqual(bn.momentum, 0.9)

    def test_a_seed_gives_each_estimate_its_own_reproducible_batches(self):
        rng = np.random.default_rng(5)
        x = rng.normal(size=(24, 4)).astype("float32")
        bn = keras.layers.BatchNormalization(momentum=0.9)
        model = keras.Sequential([keras.Input((4,)), bn])
        runs = []
        for global_seed in (0, 1):  # two workers, or a run and its resume
            np.random.seed(global_seed)
            precise = PopulationStatistics(x, batches=2, batch_size=8, seed=5)
            precise.set_model(model)
            means = []
            for _ in range(2):
                precise.on_test_begin()
                means.append(_numpy(bn.moving_mean))
            runs.append(np.stack(means))
        self.assertAllEqual(runs[1], runs[0])
        # Estimate k draws from `np.random.default_rng([seed, k])`.
        for k, mean in enumerate(runs[0]):
            order = np.random.default_rng([5, k]).permutation(24)[:16]
            self.assertAllClose(mean, x[order].reshape(2, 8, 4).mean(1).mean(0))
        self.assertFalse(np.allclose(runs[0][0], runs[0][1]))

    def test_bad_arguments_raise_value_errors(self):
        x = np.ones((8, 4), "float32")
        with self.assertRaisesRegex(ValueError, "when='epoch'"):
            PopulationStatistics(x, batch_size=8, when="epoch")
        with self.assertRaisesRegex(ValueError, "batches=0"):
            PopulationStatistics(x, batches=0, batch_size=8)
        with self.assertRaisesRegex(ValueError, "batch_size=None"):
            PopulationStatistics(x)
