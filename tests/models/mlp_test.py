import keras
import numpy as np

import kdl
from tests.test_case import TestCase


def numpy_mlp(x, weights, activation, output_activation=None):
    """Flatten, then `act(h @ W + b)` per layer (NumPy, float64)."""
    h = x.reshape(len(x), -1).astype("float64")
    pairs = list(zip(weights[::2], weights[1::2]))
    for i, (w, b) in enumerate(pairs):
        h = h @ w + b
        act = activation if i < len(pairs) - 1 else output_activation
        if act is not None:
            h = act(h)
    return h


class BuildMLPTest(TestCase):
    def test_layers_and_shapes(self):
        model = kdl.models.build_mlp(
            (8, 8),
            [16, 8],
            3,
            kernel_initializer=kdl.initializers.FanInUniform(),
            name="net",
        )
        self.assertEqual(model.name, "net")
        self.assertEqual(model.output_shape, (None, 3))
        self.assertIsInstance(model.layers[0], keras.layers.Flatten)
        self.assertEqual(
            [layer.units for layer in model.layers[1:]], [16, 8, 3]
        )
        self.assertEqual(
            [layer.name for layer in model.layers[1:]],
            ["hidden_0", "hidden_1", "output"],
        )
        # The fan-in rule on the first kernel: fan-in 64.
        kernel = np.asarray(model.layers[1].kernel)
        self.assertLessEqual(np.abs(kernel).max(), 1 / np.sqrt(64))
        # Each layer gets its own initializer instance (independent draws).
        self.assertIsNot(
            model.layers[1].kernel_initializer,
            model.layers[2].kernel_initializer,
        )
        self.assertIsInstance(
            model.layers[2].kernel_initializer, kdl.initializers.FanInUniform
        )

    def test_forward_equals_numpy(self):
        x = np.random.RandomState(0).normal(size=(5, 2, 3)).astype("float32")
        model = kdl.models.build_mlp(
            (2, 3), [4, 5], 2, activation="tanh", output_activation="sigmoid"
        )
        weights = [np.asarray(w, "float64") for w in model.get_weights()]
        want = numpy_mlp(x, weights, np.tanh, lambda z: 1 / (1 + np.exp(-z)))
        self.assertAllClose(model(x), want, atol=1e-5)
        # Default: ReLU hidden layers and logits out.
        model = kdl.models.build_mlp((6,), [7], 3)
        weights = [np.asarray(w, "float64") for w in model.get_weights()]
        x = x.reshape(5, 6)
        want = numpy_mlp(x, weights, lambda z: np.maximum(z, 0))
        self.assertAllClose(model(x), want, atol=1e-5)

    def test_no_hidden_layers_is_a_linear_model(self):
        model = kdl.models.build_mlp((4,), [], 1, output_activation="sigmoid")
        self.assertEqual([layer.name for layer in model.layers[1:]], ["output"])
        self.assertEqual(model.count_params(), 5)
        x = np.random.RandomState(1).normal(size=(6, 4)).astype("float32")
        w, b = model.get_weights()
        self.assertAllClose(model(x), 1 / (1 + np.exp(-(x @ w + b))), atol=1e-6)

    def test_fits_a_nonlinear_problem(self):
        # XOR-like quadrants: a linear model cannot get below 50 % error.
        # (Many small steps in 2 epochs: Keras's per-epoch cost dominates.)
        rng = np.random.RandomState(2)
        x = rng.uniform(-1, 1, (512, 2)).astype("float32")
        y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype("int32")
        model = kdl.models.build_mlp((2,), [16], 2)
        model.compile(
            keras.optimizers.Adam(0.02),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        logits = model.predict(x, batch_size=512, verbose=0)
        self.assertGreater(np.mean(logits.argmax(-1) == y), 0.9)

    def test_errors(self):
        for bad in ([0], [4, -1]):
            with self.assertRaisesRegex(ValueError, "hidden_units"):
                kdl.models.build_mlp((2,), bad, 1)
        for bad in (0, -2):
            with self.assertRaisesRegex(ValueError, "outputs"):
                kdl.models.build_mlp((2,), [2], bad)
