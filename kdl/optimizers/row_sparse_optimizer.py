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

Backends. `apply` (Keras's `compile`/`fit` path, `tf.IndexedSlices`
gradients, `tf.distribute`) is TensorFlow only: JAX has no sparse
gradients, so a JAX gradient of a table is a dense table-sized array.
`apply_rows(gradient, variable, indices)` is the backend-neutral row update:
it takes the gradient of the gathered rows `take(variable, indices)` (what a
JAX step differentiates instead of the table) and writes the rows and their
slots back with `keras.ops.scatter_update`; inside a jitted JAX step whose
state is donated (Keras's `fit` with `jit_compile=True`) XLA scatters into
the donated buffers in place, so the step is O(batch) there too.
`kdl.models.GLO` trains its codes that way on JAX. On TensorFlow
`apply_rows` writes with `tf.Variable.scatter_update` (in place).

`RowSparseSGD` (row_sparse_sgd.py) and `RowSparseAdam` (row_sparse_adam.py)
are the subclasses.
"""

import keras
import tensorflow as tf
from keras import ops

from kdl._index_checks import checked_row_indices
from kdl.constraints.row_constraint import RowConstraint

# Base-optimizer options that `apply_rows` does not implement (Keras applies
# them in `apply`); each is off when None, False or 0.
ROW_UPDATE_UNSUPPORTED = (
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "weight_decay",
    "use_ema",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)


def check_row_update_options(optimizer):
    """Refuses base options `apply_rows` does not implement (ValueError).

    Gradient clipping, weight decay, EMA, a loss scale factor and gradient
    accumulation are applied by Keras's `apply`; the row update of
    `apply_rows` (a JAX step's) has none of them.
    """
    for name in ROW_UPDATE_UNSUPPORTED:
        value = getattr(optimizer, name, None)
        if value not in (None, False, 0):
            raise ValueError(
                f"{optimizer.__class__.__name__}.apply_rows (the row update "
                "of a JAX step, e.g. kdl.models.GLO's codes on JAX) does not "
                f"support `{name}`. Received: {name}={value!r}"
            )


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


def _gather(variable, indices):
    """Rows `indices` of `variable` (TensorFlow: read only those rows)."""
    if keras.backend.backend() == "tensorflow":
        return tf.gather(_backing(variable), indices)
    return ops.take(variable, indices, axis=0)


def _scatter(variable, indices, rows):
    """Writes `rows` at `indices` of `variable` (in place on TensorFlow)."""
    if keras.backend.backend() == "tensorflow":
        _backing(variable).scatter_update(tf.IndexedSlices(rows, indices))
    else:
        variable.assign(
            ops.scatter_update(variable, ops.expand_dims(indices, 1), rows)
        )


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

    Backends: `apply` (sparse `tf.IndexedSlices` or dense gradients, as
    Keras's `compile`/`fit` and `tf.distribute` call it) is TensorFlow only
    (JAX has no sparse gradients; on JAX it raises `NotImplementedError`).
    `apply_rows(gradient, variable, indices)` is the same row update for the
    gradient of the gathered rows, written with `keras.ops`, on TensorFlow
    and JAX (see the module docstring); `kdl.models.GLO` uses it on JAX.

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
            if keras.backend.backend() == "tensorflow":
                for copy in _local_copies(variable):
                    self._row_index[copy.ref()] = index

    def apply(self, grads, trainable_variables=None):
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError(
                f"{self.__class__.__name__}.apply needs the TensorFlow "
                "backend (sparse `tf.IndexedSlices` gradients; a JAX "
                "gradient of a table is dense and table-sized). On JAX, "
                "differentiate the gathered rows and call "
                "`apply_rows(gradient, variable, indices)` (kdl.models.GLO "
                "does, as its code optimizer). Received: "
                f"backend={keras.backend.backend()!r}"
            )
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
        if keras.backend.backend() != "tensorflow":
            for entry in self._row_entries:
                if entry.variable is variable:
                    return entry
            raise ValueError(
                f"{self.__class__.__name__} was not built with this "
                f"variable. Received: variable={variable.name}"
            )
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

    def apply_rows(
        self, gradient, variable, indices, skip=None, check_indices=True
    ):
        """Updates rows `indices` of `variable` from their gradient; O(batch).

        The row-sparse step for a gradient taken w.r.t. the gathered rows
        `keras.ops.take(variable, indices, axis=0)` rather than the whole
        variable (on JAX, where a table's gradient would be dense): the
        gradients of duplicate indices are summed (an equality matrix of
        the indices finds each one's first position, as `jit` allows no
        dynamic `unique`, and a segment sum adds them; every duplicate
        position then carries the same sum and writes the same new row),
        the rows of the variable and of its slots are gathered, passed to
        `row_update` with the current learning rate, the variable's
        `RowConstraint` (if any) is applied to them, and they are written
        back with `keras.ops.scatter_update` (TensorFlow:
        `tf.Variable.scatter_update`, in place). `iterations` advances by
        one. Rows not in `indices` and their slots keep their values.
        With `skip` true the step changes nothing: the rows, their slots and
        `iterations` keep their values (a step skipped as
        `keras.optimizers.LossScaleOptimizer` skips one whose gradients
        overflowed; `kdl.models.GLO` skips its codes' step then).

        Inside a jitted JAX step whose state is donated (Keras's `fit`
        with `jit_compile=True`, the variable and the slots in the state)
        XLA writes the rows into the donated buffers in place. Call it in
        such a step, or eagerly (then each write copies the variable).

        Args:
            gradient: the loss's gradient w.r.t. the gathered rows, shape
                `indices.shape + variable.shape[1:]` (float; cast to the
                variable's dtype).
            variable: a variable this optimizer was built with.
            indices: integer row indices (any shape; duplicates allowed).
            skip: optional scalar boolean (a tensor under `jit`): when
                true, nothing is updated. The gradient may then hold
                `inf`/`nan`: no row or slot reads it.
            check_indices: whether to check that every index is a row of
                `variable` (default True). False for indices checked
                already (`kdl.models.GLO`'s, by its `LatentTable`).

        Raises:
            ValueError: the optimizer uses gradient clipping, weight decay,
                EMA, a loss scale factor or gradient accumulation (applied
                by Keras's `apply`, not here), was not built with
                `variable`, `gradient` is not shaped as the gathered rows,
                or an index is outside the variable's rows (eagerly; under
                `jit` the check runs in a `jax.debug.callback` when the
                step runs, and JAX raises its runtime error with this
                message: JAX would clamp the index silently; in a
                TensorFlow graph a `tf.debugging` assertion fails).
        """
        check_row_update_options(self)
        if not self.built:
            self.build([variable])
        entry = self._entry(variable)
        row_shape = tuple(variable.shape[1:])
        indices = ops.convert_to_tensor(indices)
        gradient = ops.convert_to_tensor(gradient)
        want = tuple(indices.shape) + row_shape
        got = tuple(gradient.shape)
        if len(got) != len(want) or any(
            g is not None and w is not None and g != w
            for g, w in zip(got, want)
        ):
            raise ValueError(
                f"{self.__class__.__name__}.apply_rows: `gradient` must "
                "have the shape of the gathered rows, indices.shape + "
                f"variable.shape[1:] = {want}. Received: "
                f"gradient.shape={got}"
            )
        indices = ops.reshape(ops.cast(indices, "int32"), (-1,))
        if check_indices:
            indices = checked_row_indices(
                indices,
                variable.shape[0],
                f"{self.__class__.__name__}.apply_rows `indices` must be in "
                f"[0, {variable.shape[0]}) (the rows of {variable.name})",
            )
        gradient = ops.reshape(
            ops.cast(gradient, variable.dtype), (-1,) + row_shape
        )
        flat = ops.reshape(gradient, (ops.shape(gradient)[0], -1))
        same = ops.equal(ops.expand_dims(indices, 1), indices)
        # Each position's segment is its index's first position; the sums
        # are a scatter-add, exact in float32 (a matmul by `same` would
        # round to bfloat16 on TPU and TF32 on recent GPUs, JAX's default
        # matmul precision). Every duplicate takes its segment's one sum,
        # so all of them write bitwise the same row.
        first = ops.argmax(ops.cast(same, "int32"), axis=1)
        flat = ops.segment_sum(flat, first, num_segments=ops.shape(flat)[0])
        gradient = ops.reshape(ops.take(flat, first, axis=0), (-1,) + row_shape)
        learning_rate = ops.cast(self.learning_rate, variable.dtype)
        old_rows = _gather(variable, indices)
        old_slot_rows = [_gather(slot, indices) for slot in entry.slots]
        rows, slot_rows = self.row_update(
            gradient, old_rows, old_slot_rows, learning_rate
        )
        if entry.constraint is not None:
            rows = entry.constraint(rows)
        rows = ops.cast(rows, variable.dtype)
        step = 1
        if skip is not None:
            # A select, not a branch: one program under `jit`, and the
            # skipped step writes the rows it read.
            keep = ops.logical_not(ops.convert_to_tensor(skip, "bool"))
            rows = ops.where(keep, rows, old_rows)
            slot_rows = [
                ops.where(keep, new, old)
                for new, old in zip(slot_rows, old_slot_rows)
            ]
            step = ops.cast(keep, self.iterations.dtype)
        for slot, new_rows in zip(entry.slots, slot_rows):
            _scatter(slot, indices, new_rows)
        _scatter(variable, indices, rows)
        self.iterations.assign_add(step)

    def dense_update(self, gradient, variable, slots, learning_rate):
        raise NotImplementedError

    def row_update(self, gradient, rows, slot_rows, learning_rate):
        raise NotImplementedError
