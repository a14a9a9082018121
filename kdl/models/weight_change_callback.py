"""A callback that records how far a weight moves in each epoch."""

import keras
import numpy as np


class WeightChangeCallback(keras.callbacks.Callback):
    """Records `|w_epoch_end - w_previous_epoch_end|` (L2) after each epoch.

    The lecture's picture of convergence: on linearly separable data the
    perceptron's weights stop moving, on non-separable data they never
    settle, while logistic regression's changes shrink towards zero.

    Args:
        variable: the weight to watch (e.g. `model.kernel`), read at the
            start of the first epoch and at the end of every epoch.

    Attributes:
        changes: one float per finished epoch.

    Example:

    >>> trace = WeightChangeCallback(model.layers[-1].kernel)
    >>> model.fit(x, y, epochs=5, callbacks=[trace])
    >>> trace.changes  # five distances
    """

    def __init__(self, variable):
        super().__init__()
        if not hasattr(variable, "numpy") and not hasattr(variable, "value"):
            raise ValueError(
                "`variable` must be a Keras or TF variable. "
                f"Received: variable={variable!r}"
            )
        self.variable = variable
        self.changes = []
        self.previous = None

    def _read(self):
        return np.asarray(keras.ops.convert_to_numpy(self.variable))

    def on_epoch_begin(self, epoch, logs=None):
        if self.previous is None:
            self.previous = self._read()

    def on_epoch_end(self, epoch, logs=None):
        current = self._read()
        self.changes.append(float(np.linalg.norm(current - self.previous)))
        self.previous = current
