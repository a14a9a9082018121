"""kdl.constraints.UnitSphereRows against a NumPy reference."""

import numpy as np
from keras import ops

import kdl
from tests.constraints.row_constraint_test import weights
from tests.test_case import TestCase


class UnitSphereRowsTest(TestCase):
    def test_matches_numpy(self):
        w = weights()
        got = ops.convert_to_numpy(kdl.constraints.UnitSphereRows()(w))
        norm = np.linalg.norm(w.astype("float64"), axis=1, keepdims=True)
        self.assertAllClose(got, w / np.maximum(norm, 1e-12), atol=1e-7)
        norms = np.linalg.norm(got, axis=1)
        # Every row on the sphere but the zero row, which stays zero.
        self.assertAllClose(norms[1:], np.ones(len(w) - 1), atol=1e-6)
        self.assertTrue(np.all(got[0] == 0.0))

    def test_fixed_values(self):
        w = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, -2.0]], "float32")
        want = np.array([[0.6, 0.8], [0.6, 0.8], [0.0, -1.0]])
        got = kdl.constraints.UnitSphereRows()(w)
        self.assertAllClose(got, want, atol=1e-7)
        self.assertEqual(kdl.constraints.UnitSphereRows().get_config(), {})
