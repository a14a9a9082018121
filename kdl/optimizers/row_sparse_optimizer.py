"""The base of the row-sparse ("lazy") optimizers for per-example tables.

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

`RowSparseSGD` (row_sparse_sgd.py) and `RowSparseAdam` (row_sparse_adam.py)
are the subclasses.
"""

import keras
import tensorflow as tf

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
    """Base class of the row-sparse optimizers: `RowSparseSGD`, `RowSparseAdam`.

    Owns the slot variables (one per name in `slot_names()`, created from
    each trained variable) and the row constraints, and dispatches each
    step: a dense gradient goes to `dense_update`, then the variable's
    constraint; a `tf.IndexedSlices` gradient has its duplicate indices
    summed, the named rows of the variable and of its slots gathered and
    passed to `row_update`, the variable's `RowConstraint` applied to the
    new rows, and the rows scattered back in place. Subclasses implement:

    - `slot_names()`: the per-variable slot names (default: none);
    - `dense_update(gradient, variable, slots, learning_rate)`: assigns the
      new variable and slots in place (Keras `self.assign*`);
    - `row_update(gradient, rows, slot_rows, learning_rate)`: returns
      `(new_rows, new_slot_rows)` for the gathered rows (TF tensors).

    Accept any of them with `isinstance(optimizer, RowSparseOptimizer)`
    (e.g. `kdl.models.GLO` refuses other code optimizers).

    Args:
        learning_rate: float or schedule.
        **kwargs: base optimizer arguments (name, clipnorm, ...). With
            `weight_decay` or `use_ema` Keras updates the whole table each
            step (dense), as for any Keras optimizer.

    Example:

    ```python
    class RowSparsePlainSGD(kdl.optimizers.RowSparseOptimizer):
        def dense_update(self, gradient, variable, slots, learning_rate):
            self.assign_sub(variable, learning_rate * gradient)

        def row_update(self, gradient, rows, slot_rows, learning_rate):
            return rows - learning_rate * gradient, []
    ```
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
