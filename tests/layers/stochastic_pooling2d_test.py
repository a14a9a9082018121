"""Stochastic pooling against a NumPy reference."""

import numpy as np

from kdl.layers import StochasticPooling2D
from tests.layers import pooling_testing
from tests.test_case import TestCase
from tests.test_case import gradients


class StochasticPooling2DTest(TestCase):
    def test_layer(self):
        self.run_layer_test(
            StochasticPooling2D,
            {"pool_size": 2, "strides": 2, "padding": "valid", "seed": 3},
            np.random.rand(2, 6, 6, 3).astype("float32"),
            expected_output_shape=(2, 3, 3, 3),
            expected_num_trainable_weights=0,
        )

    def test_inference_is_probability_weighted_average(self):
        x = np.random.rand(2, 6, 7, 3).astype("float32")
        x[0, :3, :3, 0] = 0.0  # an all-zero window -> 0
        got = StochasticPooling2D((3, 3), strides=(3, 2))(x, training=False)
        win = pooling_testing.np_windows(x, (3, 3), (3, 2))
        s = win.sum(3)
        ref = np.where(s > 0, (win**2).sum(3) / np.where(s > 0, s, 1), 0)
        self.assertAllClose(got, ref, atol=1e-6)
        self.assertEqual(float(got[0, 0, 0, 0]), 0.0)

    def test_training_samples_in_proportion_to_activation(self):
        # One 2x2 window with activations (1, 2, 3, 4): value v is drawn with
        # probability v / 10. 4000 independent copies along the batch.
        x = np.tile(
            np.array([[1.0, 2.0], [3.0, 4.0]], "float32")[None, :, :, None],
            (4000, 1, 1, 1),
        )
        layer = StochasticPooling2D(2, seed=7)
        got = np.asarray(layer(x, training=True)).reshape(-1)
        self.assertTrue(set(np.unique(got)) <= {1.0, 2.0, 3.0, 4.0})
        freq = np.array([(got == v).mean() for v in (1, 2, 3, 4)])
        np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.03)
        # Gradient reaches only the sampled activation.
        _, (g,) = gradients(lambda x: layer(x, training=True), [x[:3]])
        g = np.asarray(g).reshape(3, 4)
        self.assertAllEqual(g.sum(1), np.ones(3))

    def test_negative_inputs_are_zero(self):
        x = -np.random.rand(1, 4, 4, 1).astype("float32")
        self.assertAllEqual(
            StochasticPooling2D(2)(x, training=True), np.zeros((1, 2, 2, 1))
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "strides"):
            StochasticPooling2D(2, strides=(1, 0))
