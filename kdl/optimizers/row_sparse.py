"""Row-sparse ("lazy") SGD and Adam for per-example tables.

Keras 3's optimizers turn the `tf.IndexedSlices` gradient of an `Embedding`
into dense updates of the whole table and of its slots every step
(keras-team/keras#19992), so a step costs O(rows of the table). These
subclasses of `keras.optimizers.SGD` / `keras.optimizers.Adam` update, for a
sparse gradient, only the rows it names: gather those rows of the variable and
of the slots, compute the step, project the rows (when the variable belongs to
a `kdl.layers.LatentTable`), and `scatter_update` them back in place. Other
rows, and their moments, are not read or written and stay bitwise unchanged.
Dense gradients get the ordinary Keras update.

TensorFlow backend only: in-place row scatter into a variable has no
`keras.ops` form (`keras.ops.scatter_update` returns a new tensor, an O(rows)
copy), so these classes use `tf.Variable.scatter_update`.
"""

import keras
import tensorflow as tf

from kdl.optimizers.projection import project_rows

# Attribute that `kdl.layers.LatentTable` sets on its code variable; the
# optimizers below project the rows they update accordingly.
ROW_PROJECTION_ATTR = "kdl_row_projection"


def _dedup_rows(gradient):
    """Sums the slices of duplicated indices: (unique indices, row grads)."""
    indices = tf.cast(gradient.indices, "int32")
    unique, positions = tf.unique(indices)
    values = tf.math.unsorted_segment_sum(
        gradient.values, positions, tf.shape(unique)[0]
    )
    return unique, values


def _as_tf_variable(variable):
    return variable.value if isinstance(variable, keras.Variable) else variable


class _RowSparseMixin:
    """Row projection bookkeeping shared by the row-sparse optimizers."""

    def _register_projections(self, var_list):
        self._row_projections = {}
        for variable in var_list:
            projection = getattr(variable, ROW_PROJECTION_ATTR, None)
            if projection is not None:
                self._row_projections[self._var_key(variable)] = projection

    def _projection_of(self, variable):
        return getattr(self, "_row_projections", {}).get(
            self._var_key(variable)
        )

    def _scatter_rows(self, variable, indices, rows, project=False):
        if project:
            projection = self._projection_of(variable)
            if projection is not None:
                rows = project_rows(rows, projection)
        _as_tf_variable(variable).scatter_update(
            tf.IndexedSlices(tf.cast(rows, variable.dtype), indices)
        )

    def _project_dense(self, variable):
        projection = self._projection_of(variable)
        if projection is not None:
            variable.assign(project_rows(variable, projection))


@keras.saving.register_keras_serializable(package="kdl")
class RowSparseSGD(_RowSparseMixin, keras.optimizers.SGD):
    """SGD (with optional momentum) that updates only the rows in the batch.

    Same arguments and dense behaviour as `keras.optimizers.SGD`. For a
    `tf.IndexedSlices` gradient (what `keras.ops.take` / `Embedding` /
    `kdl.layers.LatentTable` produce under TensorFlow), duplicate indices are
    summed, then only those rows change:
    `m[i] = momentum * m[i] - lr * g[i]`, `w[i] += m[i]` (Nesterov:
    `w[i] += momentum * m[i] - lr * g[i]`), or `w[i] -= lr * g[i]` without
    momentum. The momentum of rows not in the batch does not decay ("lazy"
    momentum, as TensorFlow 1's sparse momentum). Rows of a `LatentTable`
    with a projection are projected after the step.

    Args:
        learning_rate, momentum, nesterov, **kwargs: as `keras.optimizers.SGD`.

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

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._register_projections(variables)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            super().update_step(gradient, variable, learning_rate)
            self._project_dense(variable)
            return
        lr = tf.cast(learning_rate, variable.dtype)
        indices, grad = _dedup_rows(gradient)
        grad = tf.cast(grad, variable.dtype)
        rows = tf.gather(variable, indices)
        if self.momentum != 0:
            m = self.momentums[self._get_variable_index(variable)]
            momentum = tf.cast(self.momentum, variable.dtype)
            m_rows = momentum * tf.gather(_as_tf_variable(m), indices)
            m_rows = m_rows - lr * grad
            self._scatter_rows(m, indices, m_rows)
            if self.nesterov:
                rows = rows + momentum * m_rows - lr * grad
            else:
                rows = rows + m_rows
        else:
            rows = rows - lr * grad
        self._scatter_rows(variable, indices, rows, project=True)


@keras.saving.register_keras_serializable(package="kdl")
class RowSparseAdam(_RowSparseMixin, keras.optimizers.Adam):
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

    then the rows are projected if the variable is a `LatentTable`'s. Rows
    not in the batch keep their values and moments bitwise (the semantics of
    TensorFlow Addons' `LazyAdam`, which no longer imports with Keras 3).
    Cost per step: O(batch rows), independent of the table size.

    Args:
        learning_rate, beta_1, beta_2, epsilon, **kwargs: as
            `keras.optimizers.Adam`.

    Example:

    ```python
    # Standalone: a LatentTable in any Keras model.
    model.compile(optimizer=kdl.optimizers.RowSparseAdam(1e-3), loss="mse")
    # In a custom train step: apply the table's IndexedSlices gradient.
    code_optimizer.apply([table_grad], [table.embeddings])
    ```

    Reference:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015;
        keras-team/keras#19992 (dense Adam updates of embeddings).
    """

    def __init__(self, learning_rate=0.001, amsgrad=False, **kwargs):
        if amsgrad:
            raise ValueError(
                "RowSparseAdam does not support amsgrad. "
                f"Received: amsgrad={amsgrad}"
            )
        super().__init__(learning_rate=learning_rate, amsgrad=False, **kwargs)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._register_projections(var_list)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            super().update_step(gradient, variable, learning_rate)
            self._project_dense(variable)
            return
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = (
            lr
            * tf.sqrt(1.0 - tf.pow(beta_2, local_step))
            / (1.0 - tf.pow(beta_1, local_step))
        )
        indices, grad = _dedup_rows(gradient)
        grad = tf.cast(grad, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        m_rows = tf.gather(_as_tf_variable(m), indices)
        v_rows = tf.gather(_as_tf_variable(v), indices)
        m_rows = m_rows + (grad - m_rows) * (1.0 - beta_1)
        v_rows = v_rows + (tf.square(grad) - v_rows) * (1.0 - beta_2)
        self._scatter_rows(m, indices, m_rows)
        self._scatter_rows(v, indices, v_rows)
        rows = tf.gather(variable, indices)
        rows = rows - alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon)
        self._scatter_rows(variable, indices, rows, project=True)
