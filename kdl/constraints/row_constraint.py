"""Base class of the weight constraints that act on each row on its own."""

import keras


class RowConstraint(keras.constraints.Constraint):
    """A constraint that maps every row (last axis) of a weight independently.

    Row `i` of `constraint(w)` depends on row `i` of `w` only, so constraining
    a gathered subset of rows and scattering them back equals constraining
    the whole weight. Every Keras optimizer applies a weight's `constraint`
    to the whole weight after each step (O(rows)); the row-sparse optimizers
    of `kdl.optimizers` recognise a `RowConstraint` and, for a sparse
    (`tf.IndexedSlices`) gradient, apply it to the updated rows only, so a
    step stays O(batch) for tables of any size.

    Subclasses implement `__call__(w)` with `keras.ops`, row-wise over the
    last axis, for a `w` of any rank >= 1 (a whole table or some of its
    rows), and `get_config()`.

    Example:

    ```python
    @keras.saving.register_keras_serializable(package="my_package")
    class NonNegativeRows(kdl.constraints.RowConstraint):
        def __call__(self, w):
            return keras.ops.relu(w)
    ```
    """

    def __call__(self, w):
        raise NotImplementedError(
            f"{self.__class__.__name__} must implement `__call__(w)`."
        )
