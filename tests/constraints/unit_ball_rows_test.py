"""kdl.constraints.UnitBallRows against a NumPy reference."""

import numpy as np
from keras import ops

import kdl
from tests.constraints.row_constraint_test import weights
from tests.test_case import TestCase


class UnitBallRowsTest(TestCase):
    def test_matches_numpy_and_keeps_inner_rows_bitwise(self):
        w = weights()
        got = ops.convert_to_numpy(kdl.constraints.UnitBallRows()(w))
        norm = np.linalg.norm(w.astype("float64"), axis=1, keepdims=True)
        self.assertAllClose(got, w / np.maximum(norm, 1.0), atol=1e-7)
        inside = norm[:, 0] <= 1.0 - 1e-6
        self.assertTrue(inside.any() and not inside.all())
        self.assertTrue(np.array_equal(got[inside], w[inside]))
        self.assertTrue(np.all(got[0] == 0.0))
        norms = np.linalg.norm(got, axis=1)
        self.assertLessEqual(norms.max(), 1.0 + 1e-6)
        self.assertAllClose(norms[~inside][1:], 1.0, atol=1e-6)

    def test_fixed_values(self):
        w = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]], "float32")
        want = np.array([[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]])
        self.assertAllClose(kdl.constraints.UnitBallRows()(w), want, atol=1e-7)
        self.assertEqual(kdl.constraints.UnitBallRows().get_config(), {})
