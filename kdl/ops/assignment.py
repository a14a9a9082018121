"""Exact linear assignment (the Hungarian problem) as a TensorFlow / JAX op.

Keras has no `keras.ops` form of an assignment solver, so this op calls
`scipy.optimize.linear_sum_assignment` (a shortest-augmenting-path
Jonker-Volgenant solver, exact for any real costs) on the host: through
`tf.numpy_function` for TensorFlow tensors (and numpy inputs on the
TensorFlow backend, and inside `tf.function` / `tf.data` on any backend),
through `jax.pure_callback` on the JAX backend (usable under `jax.jit` and
`jax.vmap`; XLA calls back into scipy).

Trade-offs of this host backend (measured in `benchmarks/nat_overhead.py`):

- It runs on the host CPU: a device-to-host copy of the cost matrix and a
  host-to-device copy of the result on every call, and the Python GIL is held
  while it runs.
- On TensorFlow it cannot be compiled by XLA (`jit_compile=True` fails,
  `tf.function` is fine); on JAX `jax.jit` compiles it with a host callback.
  Neither runs on TPUs.
- `tf.data` pipelines that use it cannot be serialised (tf.data service).
- It is exact, handles rectangular matrices, and costs what scipy costs
  plus a copy and the `numpy_function` call (about 1 ms); see
  `benchmarks/nat_overhead.py --parts=assignment` for the times at batch
  64..4096.

No in-graph exact solver is shipped. A prototype Hungarian algorithm
(shortest augmenting paths with potentials, vectorised over columns, in
nested `tf.while_loop`s) was exact but, measured on this 2-core CPU, took
136 ms (graph) / 1.1 ms (XLA) at n=64 and 566 ms / 79 ms at n=256, against
0.06-2 ms and 4-27 ms for scipy (the machine was shared, so the scipy
figures vary): at NAT's batch of 256, 3-18x slower with XLA and over 20x
without. The auction algorithm is exact only for integer costs.
"""

import sys

import keras
import numpy as np
import scipy.optimize

from kdl import _validation


def _solve(cost, maximize):
    """NumPy kernel: cost (batch, n, m) float64 -> (rows, cols) int32."""
    cost = np.asarray(cost, dtype=np.float64)
    batch, n, m = cost.shape
    k = min(n, m)
    rows = np.empty((batch, k), dtype=np.int32)
    cols = np.empty((batch, k), dtype=np.int32)
    for b in range(batch):
        r, c = scipy.optimize.linear_sum_assignment(
            cost[b], maximize=bool(maximize)
        )
        rows[b] = r
        cols[b] = c
    return rows, cols


def _check_finite_eager(cost):
    values = np.asarray(cost)
    if values.size and not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.sum(np.isfinite(values)))
        raise ValueError(
            "linear_sum_assignment: `cost` must be finite, but it has "
            f"{bad} NaN or infinite entries. Received: cost with shape "
            f"{values.shape}"
        )


def linear_sum_assignment(cost, maximize=False, name=None):
    """Solves the linear sum assignment problem exactly, like scipy.

    For a cost matrix `C` of shape `(n, m)` it finds the row indices `r` and
    the column indices `c` (each of length `k = min(n, m)`, `r` increasing)
    that minimise (or, with `maximize=True`, maximise) `sum_i C[r_i, c_i]`,
    each row and column used at most once. For square matrices `r` is
    `range(n)` and `c` is the optimal permutation: row `i` goes to column
    `c[i]`. Any leading dimensions are batch dimensions, solved
    independently.

    Works eagerly, inside `tf.function`, and inside `tf.data.Dataset.map`
    (TensorFlow tensors, on any Keras backend), and on the JAX backend
    eagerly and under `jax.jit` / `jax.vmap` (JAX arrays; the costs are
    solved in float64 on the host whatever `jax_enable_x64` says). The
    computation runs on the host through
    `scipy.optimize.linear_sum_assignment` (see the module docstring for the
    trade-offs: a host round trip, not XLA-compilable on TensorFlow, not on
    TPU).

    Args:
        cost: float or integer tensor of shape `(..., n, m)`, rank >= 2, all
            entries finite. Any float dtype (computed in float64).
        maximize: bool (Python), maximise the total instead of minimising.
        name: optional name scope.

    Returns:
        `(row_ind, col_ind)`, two int32 tensors of shape `(..., min(n, m))`
        (`tf.Tensor`s, or JAX arrays on the JAX backend).

    Raises:
        ValueError: if `cost` has a static rank below 2, or (eagerly) has
            NaN or infinite entries. In a TF graph, NaN or infinite entries
            raise `tf.errors.InvalidArgumentError` from `tf.debugging`;
            under `jax.jit`, a `JaxRuntimeError` from the callback.
        NotImplementedError: on a Keras backend other than TensorFlow and
            JAX (for inputs that are not TensorFlow tensors).

    Example:

    >>> cost = tf.constant([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    >>> rows, cols = kdl.ops.linear_sum_assignment(cost)
    >>> cols.numpy()
    array([1, 0, 2], dtype=int32)
    >>> # batched: (batch, n, n) -> (batch, n)
    >>> _, perms = kdl.ops.linear_sum_assignment(tf.random.normal((8, 5, 5)))

    Reference: Kuhn 1955, "The Hungarian method for the assignment problem";
    Crouse 2016, "On implementing 2D rectangular assignment algorithms"
    (the algorithm scipy implements).
    """
    maximize = _validation.boolean("maximize", maximize)
    if not _use_tensorflow(cost):
        if keras.backend.backend() == "jax":
            return _jax_assignment(cost, maximize)
        raise NotImplementedError(
            "linear_sum_assignment needs the TensorFlow or the JAX backend "
            "(or a TensorFlow tensor); the current backend is "
            f"{keras.backend.backend()!r}."
        )
    import tensorflow as tf

    with tf.name_scope(name or "linear_sum_assignment"):
        cost = tf.convert_to_tensor(cost)
        rank = cost.shape.rank
        if rank is not None and rank < 2:
            raise ValueError(
                "linear_sum_assignment expects `cost` of rank >= 2, shape "
                "(..., n, m). Received: cost with shape "
                f"{tuple(cost.shape)} (rank {rank})"
            )
        if not (cost.dtype.is_floating or cost.dtype.is_integer):
            raise ValueError(
                "linear_sum_assignment expects a float or integer `cost`. "
                f"Received: cost.dtype={cost.dtype.name}"
            )
        cost = tf.cast(cost, tf.float64)
        if tf.executing_eagerly():
            _check_finite_eager(cost)
        else:
            cost = tf.debugging.assert_all_finite(
                cost,
                "linear_sum_assignment: `cost` must be finite (it has NaN or "
                "infinite entries)",
            )
        if rank is None:
            tf.debugging.assert_rank_at_least(
                cost, 2, message="linear_sum_assignment: `cost` rank < 2"
            )
        shape = tf.shape(cost)
        batch_shape = shape[:-2]
        n, m = shape[-2], shape[-1]
        flat = tf.reshape(cost, tf.stack([-1, n, m]))
        rows, cols = tf.numpy_function(
            lambda c: _solve(c, maximize),
            [flat],
            [tf.int32, tf.int32],
            stateful=False,
        )
        out_shape = tf.concat([batch_shape, [tf.minimum(n, m)]], axis=0)
        rows = tf.reshape(rows, out_shape)
        cols = tf.reshape(cols, out_shape)
        if rank is not None:
            static = cost.shape
            sn, sm = static[-2], static[-1]
            k = None if sn is None or sm is None else min(sn, sm)
            rows.set_shape(static[:-2].concatenate([k]))
            cols.set_shape(static[:-2].concatenate([k]))
        return rows, cols


def _use_tensorflow(cost):
    """TF tensors and TF graphs (tf.function, tf.data) take the TF path on
    every backend; other inputs follow the Keras backend."""
    if keras.backend.backend() == "tensorflow":
        return True
    tf = sys.modules.get("tensorflow")  # loaded already if `cost` is TF's
    if tf is None:
        return False
    return tf.is_tensor(cost) or not tf.executing_eagerly()


def _check_rank_and_dtype(shape, dtype):
    rank = len(shape)
    if rank < 2:
        raise ValueError(
            "linear_sum_assignment expects `cost` of rank >= 2, shape "
            f"(..., n, m). Received: cost with shape {tuple(shape)} "
            f"(rank {rank})"
        )
    if not (
        np.issubdtype(dtype, np.floating)
        or np.issubdtype(dtype, np.integer)
        or str(dtype) == "bfloat16"
    ):
        raise ValueError(
            "linear_sum_assignment expects a float or integer `cost`. "
            f"Received: cost.dtype={dtype}"
        )


def _jax_assignment(cost, maximize):
    """The JAX path: `jax.pure_callback` into scipy (works under jit)."""
    import jax
    import jax.numpy as jnp

    if not isinstance(cost, jax.Array):
        cost = np.asarray(cost)  # NumPy costs stay float64 (no x64 needed)
    _check_rank_and_dtype(cost.shape, cost.dtype)
    *batch_shape, n, m = cost.shape
    k = min(n, m)
    out_shape = (*batch_shape, k)
    flat_shape = (int(np.prod(batch_shape, dtype=np.int64)), n, m)
    if not isinstance(cost, jax.core.Tracer):  # eager: solve right away
        values = np.asarray(cost, dtype=np.float64)
        _check_finite_eager(values)
        rows, cols = _solve(values.reshape(flat_shape), maximize)
        return (
            jnp.asarray(rows.reshape(out_shape)),
            jnp.asarray(cols.reshape(out_shape)),
        )
    flat = jnp.reshape(cost, flat_shape)
    result = jax.ShapeDtypeStruct((flat.shape[0], k), jnp.int32)

    def solve(c):
        c = np.asarray(c, dtype=np.float64)
        _check_finite_eager(c)
        return _solve(c, maximize)

    rows, cols = jax.pure_callback(
        solve, (result, result), flat, vmap_method="sequential"
    )
    return jnp.reshape(rows, out_shape), jnp.reshape(cols, out_shape)
