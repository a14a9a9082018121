"""Property-based fuzzing of every public kdl op (Hypothesis).

`linear_sum_assignment` on small random cost matrices (1x1, rectangular
both ways, a batch axis, integer and float16/bfloat16/float64 costs,
magnitudes to 1e3, ties): a valid assignment whose total is the optimum
of the brute-force reference in the op's own test file. Invalid input
raises a ValueError naming `cost`.
"""

import numpy as np
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import kdl
from tests.fuzz import fuzzing as fz
from tests.fuzz.fuzzing import fuzzes
from tests.ops.assignment_test import brute_force_best
from tests.test_case import TestCase


class OpFuzzTest(TestCase):
    @fuzzes("linear_sum_assignment")
    @given(
        st.integers(1, 4),
        st.integers(1, 4),
        st.integers(0, 2),
        st.booleans(),
        st.sampled_from(["float32", "float64", "float16", "bfloat16", "int32"]),
        st.sampled_from(["normal", "ties"]),
        fz.scales,
        fz.seeds,
    )
    def test_linear_sum_assignment(
        self, n, m, batch, maximize, dtype, kind, scale, seed
    ):
        shape = (batch, n, m) if batch else (n, m)
        rng = np.random.RandomState(seed)
        if kind == "ties" or dtype == "int32":
            cost = rng.randint(-3, 4, shape).astype("float64")
        else:
            cost = rng.normal(size=shape) * scale
        # The values the op sees (rounded to the dtype): the optimum is
        # checked on them.
        seen = tf.cast(tf.cast(cost, dtype), "float64").numpy()
        rows, cols = kdl.ops.linear_sum_assignment(
            tf.cast(cost, dtype), maximize=maximize
        )
        self.assertEqual((rows.dtype, cols.dtype), (tf.int32, tf.int32))
        k = min(n, m)
        self.assertEqual(tuple(rows.shape), shape[:-2] + (k,))
        rows = rows.numpy().reshape(-1, k)
        cols = cols.numpy().reshape(-1, k)
        for r, c, matrix in zip(rows, cols, seen.reshape(-1, n, m)):
            self.assertTrue((np.diff(r) > 0).all())  # increasing rows
            self.assertEqual(len(set(c.tolist())), k)  # distinct columns
            total = matrix[r, c].sum()
            best = brute_force_best(matrix, maximize)
            self.assertAllClose(total, best, atol=1e-9 * max(scale, 1))

    @given(
        st.sampled_from([np.nan, np.inf, -np.inf]),
        st.integers(1, 3),
        fz.seeds,
    )
    def test_invalid_cost_names_the_argument(self, bad, n, seed):
        cost = fz.normal(seed, (n, n))
        cost[np.random.RandomState(seed).randint(n), 0] = bad
        with self.assertRaisesRegex(ValueError, "cost"):
            kdl.ops.linear_sum_assignment(cost)
        with self.assertRaisesRegex(ValueError, "cost"):
            kdl.ops.linear_sum_assignment(cost[0])  # rank 1
