"""kdl.models.custom_steps: one stateful step, run on TensorFlow and JAX."""

import keras
import numpy as np
from absl.testing import parameterized
from keras import ops

from kdl.models import custom_steps
from tests.test_case import TestCase
from tests.test_case import backend


class LinearWithStats(keras.Model):
    """`y = x w + b` trained on MSE by SGD in a `custom_steps` step.

    The step also counts the batches in a non-trainable variable (a write
    outside the loss), adds an `add_loss` penalty in `call`, and the loss
    function itself writes the batch mean of `x` (as batch norm's
    statistics are written inside the forward pass).
    """

    def __init__(self, penalty=0.0, **kwargs):
        super().__init__(**kwargs)
        self.penalty = penalty
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def build(self, input_shape):
        self.w = self.add_weight(
            name="w", shape=(input_shape[-1], 1), initializer="ones"
        )
        self.b = self.add_weight(name="b", shape=(1,), initializer="zeros")
        self.count = self.add_weight(
            name="count", shape=(), initializer="zeros", trainable=False
        )
        self.mean = self.add_weight(
            name="mean",
            shape=(input_shape[-1],),
            initializer="zeros",
            trainable=False,
        )

    def call(self, x, training=False):
        if training:
            self.mean.assign(ops.mean(x, axis=0))
        if self.penalty:
            self.add_loss(self.penalty * ops.sum(ops.square(self.w)))
        return ops.matmul(x, self.w) + self.b

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, *args):
        return custom_steps.train_step(self, args, self.fit_batch)

    def test_step(self, *args):
        return custom_steps.test_step(self, args, self.evaluate_batch)

    def batch_loss(self, x, y):
        error = ops.mean(ops.square(self(x, training=True) - y))
        loss = error + sum(self.losses)
        return loss, error

    def fit_batch(self, data):
        x, y = data
        weights = self.trainable_weights
        (loss, error), grads = custom_steps.value_and_grad(
            lambda: self.batch_loss(x, y), weights, has_aux=True
        )
        custom_steps.apply_gradients(self, grads, weights)
        self.count.assign_add(1.0)
        self.loss_tracker.update_state(error)
        return {"loss": self.loss_tracker.result()}

    def evaluate_batch(self, data):
        x, y = data
        self.loss_tracker.update_state(ops.mean(ops.square(self(x) - y)))
        return {"loss": self.loss_tracker.result()}


def reference(x, y, lr, penalty, steps):
    """NumPy SGD on the same loss, full batches."""
    w, b = np.ones((x.shape[1], 1)), np.zeros(1)
    errors = []
    for _ in range(steps):
        r = x @ w + b - y
        errors.append(np.mean(r**2))
        w = w - lr * (2 * x.T @ r / len(x) + 2 * penalty * w)
        b = b - lr * 2 * np.mean(r, axis=0)
    return w, b, errors


class CustomStepsTest(TestCase):
    @parameterized.named_parameters(
        ("graph", False, 0.0), ("jit", True, 0.0), ("add_loss", True, 0.1)
    )
    def test_fit_matches_numpy_sgd(self, jit_compile, penalty):
        rng = np.random.RandomState(0)
        x = rng.normal(size=(8, 3)).astype("float32")
        y = rng.normal(size=(8, 1)).astype("float32")
        model = LinearWithStats(penalty)
        model.compile(keras.optimizers.SGD(0.1), jit_compile=jit_compile)
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
        w, b, errors = reference(x, y, 0.1, penalty, 3)
        self.assertAllClose(model.w, w, atol=1e-5)
        self.assertAllClose(model.b, b, atol=1e-5)
        self.assertAllClose(history.history["loss"], errors, atol=1e-5)
        # Writes inside the loss and after the gradient are both kept.
        self.assertAllClose(model.count, 3.0)
        self.assertAllClose(model.mean, x.mean(axis=0), atol=1e-6)
        self.assertAllClose(model.optimizer.iterations, 3)
        loss = model.evaluate(x, y, batch_size=8, verbose=0)
        self.assertAllClose(loss, np.mean((x @ w + b - y) ** 2), atol=1e-5)

    def test_num_replicas_and_errors(self):
        self.assertEqual(custom_steps.num_replicas(), 1)
        self.assertEqual(custom_steps.backend(), backend())
        if backend() == "jax":
            with self.assertRaisesRegex(ValueError, "train_step"):
                custom_steps.value_and_grad(lambda: 0.0, [])

    def test_jax_jit_reads_the_current_weights(self):
        if backend() != "jax":
            self.skipTest("jax_jit is the JAX backend's compiled inference")
        layer = keras.layers.Dense(1, kernel_initializer="ones")
        layer.build((None, 2))
        double = custom_steps.jax_jit(layer, lambda x, k: k * layer(x), (1,))
        x = np.ones((1, 2), "float32")
        self.assertAllClose(double(x, 2), [[4.0]])
        layer.kernel.assign(np.full((2, 1), 3.0, "float32"))
        self.assertAllClose(double(x, 2), [[12.0]])
        self.assertAllClose(double(x, 3), [[18.0]])
