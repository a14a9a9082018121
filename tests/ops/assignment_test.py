"""Tests for kdl.ops.linear_sum_assignment."""

import itertools
import unittest

import keras
import numpy as np
import scipy.optimize
import tensorflow as tf

from kdl.ops import linear_sum_assignment
from tests.test_case import TestCase
from tests.test_case import backend


def brute_force_best(cost, maximize=False):
    """Optimal total by enumerating all injections (rows <= cols)."""
    n, m = cost.shape
    if n > m:
        return brute_force_best(cost.T, maximize)
    totals = [
        cost[np.arange(n), list(p)].sum()
        for p in itertools.permutations(range(m), n)
    ]
    return max(totals) if maximize else min(totals)


class LinearSumAssignmentTest(TestCase):
    """NumPy inputs follow the Keras backend; TensorFlow tensors, graphs
    and `tf.data` take the TensorFlow path on every backend."""

    def check_optimal(self, cost, rows, cols, maximize=False):
        cost = np.asarray(cost, dtype=np.float64)
        rows, cols = np.asarray(rows), np.asarray(cols)
        k = min(cost.shape)
        self.assertEqual(rows.shape, (k,))
        self.assertEqual(cols.shape, (k,))
        # A valid matching: distinct rows and distinct columns.
        self.assertEqual(len(set(rows.tolist())), k)
        self.assertEqual(len(set(cols.tolist())), k)
        r, c = scipy.optimize.linear_sum_assignment(cost, maximize=maximize)
        self.assertAlmostEqual(
            cost[rows, cols].sum(), cost[r, c].sum(), places=9
        )

    def test_small_known_answer(self):
        cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
        rows, cols = linear_sum_assignment(cost)
        self.assertAllEqual(rows, [0, 1, 2])
        self.assertAllEqual(cols, [1, 0, 2])
        self.assertEqual(keras.backend.standardize_dtype(rows.dtype), "int32")

    def test_random_square_matches_brute_force(self):
        rng = np.random.RandomState(0)
        for n in (1, 2, 3, 5, 6):
            for maximize in (False, True):
                cost = rng.normal(size=(n, n))
                rows, cols = linear_sum_assignment(cost, maximize=maximize)
                self.check_optimal(cost, rows, cols, maximize)
                best = brute_force_best(cost, maximize)
                total = cost[np.asarray(rows), np.asarray(cols)].sum()
                self.assertAlmostEqual(total, best, places=9)

    def test_random_large_matches_scipy(self):
        rng = np.random.RandomState(1)
        for n in (64, 256):
            cost = rng.uniform(size=(n, n)).astype("float32")
            rows, cols = linear_sum_assignment(cost, maximize=True)
            self.check_optimal(cost, rows, cols, maximize=True)

    def test_tied_and_degenerate(self):
        rng = np.random.RandomState(2)
        cases = [
            np.zeros((5, 5)),
            np.ones((4, 4)),
            rng.randint(0, 3, size=(7, 7)).astype("float64"),
            np.tile(rng.normal(size=(1, 6)), (6, 1)),  # identical rows
            np.eye(5) * 1e9,  # huge values
            -np.eye(5) * 1e-12,  # tiny values
        ]
        for cost in cases:
            for maximize in (False, True):
                rows, cols = linear_sum_assignment(cost, maximize=maximize)
                self.check_optimal(cost, rows, cols, maximize)
                if cost.shape[0] <= 7:
                    total = cost[np.asarray(rows), np.asarray(cols)].sum()
                    self.assertAlmostEqual(
                        total, brute_force_best(cost, maximize), places=6
                    )

    def test_integer_costs(self):
        cost = np.array([[3, 1], [1, 3]], dtype=np.int32)
        rows, cols = linear_sum_assignment(cost)
        self.assertAllEqual(cols, [1, 0])

    def test_rectangular(self):
        rng = np.random.RandomState(3)
        for shape in ((3, 6), (6, 3), (1, 5), (5, 1), (4, 7)):
            for maximize in (False, True):
                cost = rng.normal(size=shape)
                rows, cols = linear_sum_assignment(cost, maximize=maximize)
                self.check_optimal(cost, rows, cols, maximize)
                total = cost[np.asarray(rows), np.asarray(cols)].sum()
                self.assertAlmostEqual(
                    total, brute_force_best(cost, maximize), places=9
                )

    def test_empty(self):
        rows, cols = linear_sum_assignment(np.zeros((0, 3)))
        self.assertEqual(tuple(rows.shape), (0,))
        self.assertEqual(tuple(cols.shape), (0,))

    def test_batched(self):
        rng = np.random.RandomState(4)
        cost = rng.normal(size=(2, 3, 5, 4)).astype("float32")
        rows, cols = linear_sum_assignment(cost, maximize=True)
        self.assertEqual(tuple(rows.shape), (2, 3, 4))
        self.assertEqual(tuple(cols.shape), (2, 3, 4))
        for i in range(2):
            for j in range(3):
                self.check_optimal(
                    cost[i, j], rows[i, j], cols[i, j], maximize=True
                )

    def test_tf_function_static_and_dynamic_shapes(self):
        rng = np.random.RandomState(5)
        cost = rng.normal(size=(3, 6, 6)).astype("float32")

        @tf.function
        def solve(c):
            return linear_sum_assignment(c)

        rows, cols = solve(tf.constant(cost))
        self.assertEqual(tuple(cols.shape), (3, 6))
        for b in range(3):
            self.check_optimal(cost[b], rows[b], cols[b])

        dynamic = tf.function(
            solve.python_function,
            input_signature=[tf.TensorSpec([None, None, None], tf.float32)],
        )
        concrete = dynamic.get_concrete_function()
        self.assertEqual(concrete.structured_outputs[1].shape.rank, 2)
        rows, cols = dynamic(tf.constant(cost[:, :4, :]))
        self.assertEqual(tuple(cols.shape), (3, 4))
        for b in range(3):
            self.check_optimal(cost[b, :4], rows[b], cols[b])

        unknown_rank = tf.function(
            solve.python_function,
            input_signature=[tf.TensorSpec(None, tf.float32)],
        )
        rows, cols = unknown_rank(tf.constant(cost[0]))
        self.check_optimal(cost[0], rows, cols)

    def test_dataset_map(self):
        rng = np.random.RandomState(6)
        costs = rng.normal(size=(6, 5, 5)).astype("float32")
        ds = tf.data.Dataset.from_tensor_slices(costs)
        # Unbatched elements.
        out = list(ds.map(lambda c: linear_sum_assignment(c)[1]))
        for cost, cols in zip(costs, out):
            self.check_optimal(cost, np.arange(5), cols)
        # Batched elements, with a partial last batch.
        out = list(ds.batch(4).map(lambda c: linear_sum_assignment(c)[1]))
        self.assertEqual([tuple(o.shape) for o in out], [(4, 5), (2, 5)])
        for cost, cols in zip(costs, np.concatenate(out)):
            self.check_optimal(cost, np.arange(5), cols)

    def test_float16_and_bfloat16(self):
        rng = np.random.RandomState(7)
        cost = rng.normal(size=(8, 8)).astype("float32")
        for dtype in (tf.float16, tf.bfloat16):
            c = tf.cast(cost, dtype)
            rows, cols = linear_sum_assignment(c)
            self.check_optimal(tf.cast(c, tf.float64).numpy(), rows, cols)

    def test_non_finite_eager(self):
        for bad in (np.nan, np.inf, -np.inf):
            cost = np.ones((3, 3))
            cost[1, 2] = bad
            with self.assertRaisesRegex(ValueError, "finite"):
                linear_sum_assignment(cost)

    def test_non_finite_in_graph(self):
        @tf.function
        def solve(c):
            return linear_sum_assignment(c)

        cost = np.ones((2, 3, 3), dtype="float32")
        cost[1, 0, 0] = np.nan
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "finite"):
            solve(tf.constant(cost))

    def test_wrong_rank(self):
        with self.assertRaisesRegex(ValueError, "rank"):
            linear_sum_assignment(np.ones((3,)))
        with self.assertRaisesRegex(ValueError, "rank"):
            linear_sum_assignment(3.0)

        @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
        def solve(c):
            return linear_sum_assignment(c)

        with self.assertRaises(tf.errors.InvalidArgumentError):
            solve(tf.ones((3,)))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "maximize"):
            linear_sum_assignment(np.ones((2, 2)), maximize="yes")
        with self.assertRaisesRegex(ValueError, "dtype"):
            linear_sum_assignment(tf.constant([["a", "b"], ["c", "d"]]))


@unittest.skipIf(backend() != "jax", "the JAX path (jax.pure_callback)")
class JaxLinearSumAssignmentTest(TestCase):
    """The JAX path: eager, under `jax.jit` and `jax.vmap`."""

    check_optimal = LinearSumAssignmentTest.check_optimal

    def test_jit_and_vmap(self):
        import jax
        import jax.numpy as jnp

        rng = np.random.RandomState(8)
        cost = rng.normal(size=(3, 5, 4)).astype("float32")
        for maximize in (False, True):
            for solve in (
                jax.jit(lambda c: linear_sum_assignment(c, maximize)),
                jax.vmap(lambda c: linear_sum_assignment(c, maximize)),
            ):
                rows, cols = solve(jnp.asarray(cost))
                self.assertIsInstance(cols, jax.Array)
                self.assertEqual(tuple(cols.shape), (3, 4))
                self.assertEqual(cols.dtype, jnp.int32)
                for b in range(3):
                    self.check_optimal(cost[b], rows[b], cols[b], maximize)

    def test_jax_arrays_eagerly(self):
        import jax.numpy as jnp

        cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
        rows, cols = linear_sum_assignment(jnp.asarray(cost, "bfloat16"))
        self.assertAllEqual(cols, [1, 0, 2])
        with self.assertRaisesRegex(ValueError, "finite"):
            linear_sum_assignment(jnp.asarray([[1.0, jnp.nan], [0.0, 1.0]]))
        with self.assertRaisesRegex(ValueError, "dtype"):
            linear_sum_assignment(jnp.ones((2, 2), bool))

    def test_non_finite_under_jit(self):
        import jax
        import jax.numpy as jnp

        cost = jnp.asarray([[1.0, jnp.nan], [0.0, 1.0]])
        with self.assertRaisesRegex(Exception, "finite"):
            rows, _ = jax.jit(linear_sum_assignment)(cost)
            np.asarray(rows)
