"""Row-sparse SGD: only the rows of the batch (and their momentum) move."""

import keras
from keras import ops

from kdl import _validation
from kdl.optimizers.row_sparse_optimizer import RowSparseOptimizer


@keras.saving.register_keras_serializable(package="kdl")
class RowSparseSGD(RowSparseOptimizer):
    """SGD (with optional momentum) that updates only the rows in the batch.

    Same arguments and dense behaviour as `keras.optimizers.SGD`. For a
    `tf.IndexedSlices` gradient (what `kdl.layers.LatentTable` and, under
    TensorFlow, `keras.layers.Embedding` produce), duplicate indices are
    summed, then only those rows change:
    `m[i] = momentum * m[i] - lr * g[i]`, `w[i] += m[i]` (Nesterov:
    `w[i] += momentum * m[i] - lr * g[i]`), or `w[i] -= lr * g[i]` without
    momentum. The momentum of rows not in the batch does not decay ("lazy"
    momentum, as TensorFlow 1's sparse momentum). If the variable has a
    `kdl.constraints.RowConstraint` (a `LatentTable` with a projection), it
    is applied to the updated rows only. `apply` (sparse `tf.IndexedSlices`
    gradients, `compile`/`fit`) is TensorFlow only; `apply_rows` runs the
    same row update on TensorFlow and JAX (see `RowSparseOptimizer`).

    Args:
        learning_rate: float or schedule (default 0.01).
        momentum: float in [0, 1] (default 0: no momentum slot).
        nesterov: bool, Nesterov momentum.
        **kwargs: base optimizer arguments (name, clipnorm, ...).

    Example:

    ```python
    table = kdl.layers.LatentTable(60000, 64, projection="ball")
    model = keras.Sequential([table, keras.layers.Dense(784)])
    model.compile(optimizer=kdl.optimizers.RowSparseSGD(1.0), loss="mse")
    model.fit(indices, images)  # each step touches batch_size rows only
    ```

    Reference:
        Bojanowski et al., "Optimizing the Latent Space of Generative
        Networks", ICML 2018 (per-example codes trained by SGD).
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        name="row_sparse_sgd",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = _validation.number("momentum", momentum, 0, 1)
        self.nesterov = _validation.boolean("nesterov", nesterov)

    def slot_names(self):
        return ("momentum",) if self.momentum != 0 else ()

    def dense_update(self, gradient, variable, slots, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if not slots:
            self.assign_sub(variable, lr * gradient)
            return
        (velocity,) = slots
        momentum = ops.cast(self.momentum, variable.dtype)
        self.assign(velocity, momentum * velocity - lr * gradient)
        if self.nesterov:
            self.assign_add(variable, momentum * velocity - lr * gradient)
        else:
            self.assign_add(variable, velocity)

    def row_update(self, gradient, rows, slot_rows, learning_rate):
        if not slot_rows:
            return rows - learning_rate * gradient, []
        momentum = ops.cast(self.momentum, rows.dtype)
        velocity = momentum * slot_rows[0] - learning_rate * gradient
        if self.nesterov:
            rows = rows + momentum * velocity - learning_rate * gradient
        else:
            rows = rows + velocity
        return rows, [velocity]

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
        }
