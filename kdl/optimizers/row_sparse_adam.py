"""Row-sparse ("lazy") Adam: only the rows of the batch and their moments
move (what TensorFlow Addons' LazyAdam did before Keras 3)."""

import keras
from keras import ops

from kdl import _validation
from kdl.optimizers.row_sparse_optimizer import RowSparseOptimizer


@keras.saving.register_keras_serializable(package="kdl")
class RowSparseAdam(RowSparseOptimizer):
    """Lazy Adam: for a sparse gradient only the batch rows and moments move.

    Same arguments and dense behaviour as `keras.optimizers.Adam` (without
    `amsgrad`). For a `tf.IndexedSlices` gradient `g` on rows `i` (duplicates
    summed), with `t` the optimizer's step count:

    ```
    m[i] = beta_1 * m[i] + (1 - beta_1) * g
    v[i] = beta_2 * v[i] + (1 - beta_2) * g**2
    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    w[i] -= alpha * m[i] / (sqrt(v[i]) + eps)
    ```

    then the variable's `kdl.constraints.RowConstraint` (a `LatentTable`'s
    projection), if any, is applied to those rows. Rows not in the batch
    keep their values and moments bitwise (the semantics of TensorFlow
    Addons' `LazyAdam`, which no longer imports with Keras 3). Cost per
    step: O(batch rows), independent of the table size. `apply` (sparse
    `tf.IndexedSlices` gradients, `compile`/`fit`) is TensorFlow only;
    `apply_rows` runs the same row update on TensorFlow and JAX (see
    `RowSparseOptimizer`; `kdl.models.GLO` trains its codes with it on
    JAX).

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1, beta_2: moment decay rates (defaults 0.9, 0.999).
        epsilon: added to `sqrt(v)` (default 1e-7).
        amsgrad: must be False (accepted for configs of `keras.optimizers.
            Adam`).
        **kwargs: base optimizer arguments (name, clipnorm, ...).

    Example:

    ```python
    # Standalone: a LatentTable in any Keras model.
    model.compile(optimizer=kdl.optimizers.RowSparseAdam(1e-3), loss="mse")
    # In a custom train step (TensorFlow): the table's IndexedSlices.
    code_optimizer.apply([table_grad], [table.embeddings])
    # Any backend (JAX: in a jitted step): the gathered rows' gradient.
    code_optimizer.apply_rows(rows_grad, table.embeddings, indices)
    ```

    Reference:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015;
        keras-team/keras#19992 (dense Adam updates of embeddings).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        name="row_sparse_adam",
        **kwargs,
    ):
        if _validation.boolean("amsgrad", amsgrad):
            raise ValueError(
                "RowSparseAdam does not support amsgrad. "
                f"Received: amsgrad={amsgrad}"
            )
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = _validation.rate("beta_1", beta_1)
        self.beta_2 = _validation.rate("beta_2", beta_2)
        self.epsilon = _validation.positive_number("epsilon", epsilon)

    def slot_names(self):
        return ("momentum", "velocity")

    def _alpha(self, learning_rate, dtype):
        """`lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)` at this step."""
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        lr = ops.cast(learning_rate, dtype)
        return (
            lr
            * ops.sqrt(1.0 - ops.power(beta_2, step))
            / (1.0 - ops.power(beta_1, step))
        )

    def dense_update(self, gradient, variable, slots, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        alpha = self._alpha(learning_rate, dtype)
        m, v = slots
        self.assign_add(m, (gradient - m) * (1.0 - self.beta_1))
        self.assign_add(v, (ops.square(gradient) - v) * (1.0 - self.beta_2))
        self.assign_sub(variable, alpha * m / (ops.sqrt(v) + self.epsilon))

    def row_update(self, gradient, rows, slot_rows, learning_rate):
        alpha = self._alpha(learning_rate, rows.dtype)
        m, v = slot_rows
        m = m + (gradient - m) * (1.0 - self.beta_1)
        v = v + (ops.square(gradient) - v) * (1.0 - self.beta_2)
        rows = rows - alpha * m / (ops.sqrt(v) + self.epsilon)
        return rows, [m, v]

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
