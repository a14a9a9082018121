"""Row-sparse ("lazy") SGD and Adam for per-example tables.

Keras 3's optimizers turn the `tf.IndexedSlices` gradient of an `Embedding`
into dense updates of the whole table and of its slots every step
(keras-team/keras#19992), and apply a weight's `constraint` to the whole
weight after every step, so a step costs O(rows of the table). The optimizers
here update, for a sparse gradient, only the rows it names: gather those rows
of the variable and of the optimizer slots, compute the step, apply the
variable's `kdl.constraints.RowConstraint` (if it has one) to those rows, and
`scatter_update` them back in place. Other rows, and their slots, are not read
or written and stay bitwise unchanged. Dense gradients get the ordinary dense
update, then the dense constraint.

Only public Keras API is used: slots come from `add_variable_from_reference`
and live in this class's own lists; `apply` hands Keras the backing
`tf.Variable` (`keras.Variable.value`) of a variable with a row constraint, so
Keras's own dense constraint pass (which reads `variable.constraint`) skips it
and `update_step` applies the constraint itself, densely or to the rows.

TensorFlow backend only: in-place row scatter into a variable has no
`keras.ops` form (`keras.ops.scatter_update` returns a new tensor, an O(rows)
copy), so these classes use `tf.Variable.scatter_update`.
"""

import keras
import tensorflow as tf
from keras import ops

from kdl import _validation
from kdl.constraints.row_constraint import RowConstraint


def _dedup_rows(gradient):
    """Sums the slices of duplicated indices: (unique indices, row grads)."""
    indices = tf.cast(gradient.indices, "int32")
    unique, positions = tf.unique(indices)
    values = tf.math.unsorted_segment_sum(
        gradient.values, positions, tf.shape(unique)[0]
    )
    return unique, values


def _backing(variable):
    """The backend `tf.Variable` of a `keras.Variable` (else `variable`)."""
    if isinstance(variable, keras.Variable):
        return variable.value
    return variable


def _local_copies(variable):
    """The `tf.Variable`s that `update_step` may receive for `variable`.

    `variable.value` itself, and under a `tf.distribute` strategy its
    per-replica copies (Keras updates a mirrored variable copy by copy).
    """
    value = _backing(variable)
    strategy = getattr(value, "distribute_strategy", None)
    if strategy is None:
        strategy = tf.distribute.get_strategy()
    return (value, *strategy.experimental_local_results(value))


def _row_constraint(variable):
    constraint = getattr(variable, "constraint", None)
    return constraint if isinstance(constraint, RowConstraint) else None


class _Entry:
    """A trained variable, its slots and row constraint.

    A plain object, so that Keras does not track the model's variable as an
    optimizer variable (it would for a list or dict attribute holding it).
    """

    def __init__(self, variable, slots, constraint):
        self.variable = variable
        self.slots = slots
        self.constraint = constraint


class RowSparseOptimizer(keras.optimizers.Optimizer):
    """Base class of `RowSparseSGD` and `RowSparseAdam`.

    Owns the slot variables (one per name in `slot_names(self)`, created
    from each trained variable) and the row constraints. Subclasses
    implement `dense_update(gradient, variable, slots, learning_rate)`
    (assigns in place) and `row_update(gradient, rows, slot_rows,
    learning_rate)` (returns the new rows and slot rows).

    Args:
        learning_rate: float or schedule.
        **kwargs: base optimizer arguments (name, clipnorm, ...). With
            `weight_decay` or `use_ema` Keras updates the whole table each
            step (dense), as for any Keras optimizer.
    """

    def slot_names(self):
        """Names of the per-variable slots, in creation order."""
        return ()

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._row_entries = []
        self._row_index = {}
        for index, variable in enumerate(variables):
            slots = [
                self.add_variable_from_reference(variable, name=name)
                for name in self.slot_names()
            ]
            self._row_entries.append(
                _Entry(variable, slots, _row_constraint(variable))
            )
            for copy in _local_copies(variable):
                self._row_index[copy.ref()] = index

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            if self.built:
                trainable_variables = [e.variable for e in self._row_entries]
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
        if trainable_variables is not None:
            # Keras applies `variable.constraint` to the whole variable
            # after the step; a row constraint is applied by `update_step`
            # instead (to the updated rows only, for a sparse gradient).
            # The backing tf.Variable is the same variable to Keras, but
            # carries no constraint.
            trainable_variables = [
                _backing(v) if _row_constraint(v) is not None else v
                for v in trainable_variables
            ]
        return super().apply(grads, trainable_variables)

    def _entry(self, variable):
        key = _backing(variable).ref()
        if key not in self._row_index:
            raise ValueError(
                f"{self.__class__.__name__} was not built with this variable "
                "(or was built outside the tf.distribute strategy scope that "
                f"created it). Received: variable={variable.name}"
            )
        return self._row_entries[self._row_index[key]]

    def update_step(self, gradient, variable, learning_rate):
        entry = self._entry(variable)
        slots, constraint = entry.slots, entry.constraint
        variable = _backing(variable)
        if not isinstance(gradient, tf.IndexedSlices):
            self.dense_update(gradient, variable, slots, learning_rate)
            if constraint is not None:
                variable.assign(constraint(variable))
            return
        indices, gradient = _dedup_rows(gradient)
        gradient = tf.cast(gradient, variable.dtype)
        rows = tf.gather(variable, indices)
        slot_rows = [tf.gather(_backing(slot), indices) for slot in slots]
        rows, slot_rows = self.row_update(
            gradient, rows, slot_rows, tf.cast(learning_rate, variable.dtype)
        )
        if constraint is not None:
            rows = constraint(rows)
        for slot, new_rows in zip(slots, slot_rows):
            _backing(slot).scatter_update(tf.IndexedSlices(new_rows, indices))
        variable.scatter_update(
            tf.IndexedSlices(tf.cast(rows, variable.dtype), indices)
        )

    def dense_update(self, gradient, variable, slots, learning_rate):
        raise NotImplementedError

    def row_update(self, gradient, rows, slot_rows, learning_rate):
        raise NotImplementedError


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
    is applied to the updated rows only.

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
        momentum = tf.cast(self.momentum, rows.dtype)
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
    step: O(batch rows), independent of the table size.

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
    # In a custom train step: apply the table's IndexedSlices gradient.
    code_optimizer.apply([table_grad], [table.embeddings])
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
        v = v + (tf.square(gradient) - v) * (1.0 - self.beta_2)
        rows = rows - alpha * m / (tf.sqrt(v) + self.epsilon)
        return rows, [m, v]

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
