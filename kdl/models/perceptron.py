"""Rosenblatt's perceptron, trained by the perceptron rule."""

import keras
from keras import ops

from kdl import _validation
from kdl.models import custom_steps


@keras.saving.register_keras_serializable(package="kdl")
class Perceptron(keras.Model):
    """Rosenblatt's perceptron with the perceptron learning rule.

    The model predicts `Yhat = step(X w + b)` in {0, 1}. Training uses no
    gradients: `train_step` applies the perceptron rule on each batch,

        w <- w + lr * sum_i (Y_i - Yhat_i) X_i,
        b <- b + lr * sum_i (Y_i - Yhat_i),

    so with `batch_size=1` it is Rosenblatt's online rule and with larger
    batches the batch perceptron. On linearly separable data it reaches zero
    mistakes in finitely many updates; on non-separable data the mistake
    count never settles. The weights are non-trainable variables (no
    optimizer touches them), so any `compile()` optimizer is ignored.

    Args:
        learning_rate: step size of the rule (positive float).
        kernel_initializer: initializer of `w` (default zeros, as in the
            classic algorithm).

    Call arguments:
        inputs: float tensor `(batch, features)`.

    Returns:
        float tensor `(batch, 1)` of 0/1 predictions. `decision_function(x)`
        gives the raw score `X w + b`.

    Metrics: `mistakes` (the number of misclassified examples seen in the
    epoch, counted before each update) and `accuracy`.

    Example:

    >>> model = Perceptron()
    >>> model.compile()
    >>> model.fit(x, y, batch_size=1, epochs=10)  # y in {0, 1}

    Reference: Rosenblatt 1957, "The Perceptron: a perceiving and recognizing
    automaton".
    """

    def __init__(self, learning_rate=1.0, kernel_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.learning_rate = _validation.positive_number(
            "learning_rate", learning_rate
        )

        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.mistakes_tracker = keras.metrics.Sum(name="mistakes")
        self.accuracy_tracker = keras.metrics.BinaryAccuracy(name="accuracy")

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "Perceptron expects inputs of shape (batch, features). "
                f"Received: input_shape={input_shape}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], 1),
            initializer=self.kernel_initializer,
            trainable=False,
        )
        self.bias = self.add_weight(
            name="bias", shape=(1,), initializer="zeros", trainable=False
        )

    def decision_function(self, inputs):
        return ops.matmul(inputs, self.kernel) + self.bias

    def call(self, inputs):
        score = self.decision_function(inputs)
        return ops.cast(score > 0, self.compute_dtype)

    @property
    def metrics(self):
        return [self.mistakes_tracker, self.accuracy_tracker]

    def train_step(self, *args):
        return custom_steps.train_step(self, args, self.fit_batch)

    def test_step(self, *args):
        return custom_steps.test_step(self, args, self.evaluate_batch)

    def fit_batch(self, data):
        """The perceptron rule on one batch (stateful, either backend)."""
        x, y = data[0], data[1]
        x = ops.convert_to_tensor(x, self.compute_dtype)
        y = ops.reshape(ops.cast(y, self.compute_dtype), (-1, 1))
        y_hat = self(x)
        error = y - y_hat
        self.kernel.assign_add(
            self.learning_rate * ops.matmul(ops.transpose(x), error)
        )
        self.bias.assign_add(self.learning_rate * ops.sum(error, axis=0))
        self.mistakes_tracker.update_state(ops.sum(ops.abs(error)))
        self.accuracy_tracker.update_state(y, y_hat)
        return {m.name: m.result() for m in self.metrics}

    def evaluate_batch(self, data):
        """The metrics of one batch (stateful, either backend)."""
        x, y = data[0], data[1]
        y = ops.reshape(ops.cast(y, self.compute_dtype), (-1, 1))
        y_hat = self(ops.convert_to_tensor(x, self.compute_dtype))
        self.mistakes_tracker.update_state(ops.sum(ops.abs(y - y_hat)))
        self.accuracy_tracker.update_state(y, y_hat)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate": self.learning_rate,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
        }
