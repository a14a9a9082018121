"""Row indices checked against a table's size on every backend (private).

An out-of-range index is an error on every backend and in every mode, as
TensorFlow's CPU gather makes it: JAX's `take` and scatter clamp or drop
such an index silently, and under `jit` nothing is concrete to check in
Python, so there the check runs as a `jax.debug.callback` when the step
runs; a TensorFlow graph gets `tf.debugging` assertions the returned
indices depend on.
"""

import keras
import numpy as np


def checked_row_indices(indices, num_rows, message, unique_message=None):
    """`indices`, after a check that each is in `[0, num_rows)` (and, with
    `unique_message`, that none repeats).

    Args:
        indices: integer indices (array, tensor or JAX tracer).
        num_rows: the table's number of rows.
        message: the start of the error, naming the argument and its owner
            (e.g. "LatentTable indices must be in [0, num_examples) with
            num_examples=10"); the minimum and maximum received follow.
        unique_message: if given, the indices must also be distinct: the
            start of the error when one repeats (the repeated ids follow).

    Returns:
        `indices` (in a TensorFlow graph, an identity that runs after the
        assertions).

    Raises:
        ValueError: an index is out of range and the indices are concrete
            (eager); under `jit` or in a graph the error is raised by the
            backend when the step runs.
    """

    def check(values):
        values = np.asarray(values)
        if values.size and (values.min() < 0 or values.max() >= num_rows):
            raise ValueError(
                f"{message}. Received: indices with min={values.min()} "
                f"and max={values.max()}"
            )
        if unique_message is not None:
            ids, counts = np.unique(values, return_counts=True)
            if (counts > 1).any():
                raise ValueError(
                    f"{unique_message}. Received: indices repeating "
                    f"{ids[counts > 1].tolist()}"
                )

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        if isinstance(indices, jax.core.Tracer):  # under jit / grad
            jax.debug.callback(check, indices)
        else:
            check(indices)
        return indices
    if backend != "tensorflow":
        check(keras.ops.convert_to_numpy(indices))
        return indices
    import tensorflow as tf

    if tf.executing_eagerly():
        check(keras.ops.convert_to_numpy(indices))
        return indices
    checks = [
        tf.debugging.assert_non_negative(indices, message=message),
        tf.debugging.assert_less(
            indices, tf.constant(num_rows, indices.dtype), message=message
        ),
    ]
    if unique_message is not None:
        flat = tf.reshape(indices, [-1])
        checks.append(
            tf.debugging.assert_equal(
                tf.size(tf.unique(flat).y),
                tf.size(flat),
                message=unique_message,
            )
        )
    with tf.control_dependencies(checks):
        return tf.identity(indices)
