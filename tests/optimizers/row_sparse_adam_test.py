"""RowSparseAdam: lazy Adam against NumPy, dense steps against Keras Adam."""

import keras
import numpy as np
from keras import ops

import kdl
from tests.optimizers.row_sparse_testing import TOUCHED
from tests.optimizers.row_sparse_testing import constrained
from tests.optimizers.row_sparse_testing import np_lazy_adam
from tests.optimizers.row_sparse_testing import slot
from tests.optimizers.row_sparse_testing import train
from tests.optimizers.row_sparse_testing import train_rows
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow

# `apply` takes TensorFlow's sparse gradients; `apply_rows` runs anywhere.
PATHS = {"apply": train, "apply_rows": train_rows}


class RowSparseAdamTest(TestCase):
    def test_lazy_adam_matches_numpy_and_leaves_other_rows_bitwise(self):
        paths = ["apply", "apply_rows"]
        if backend() != "tensorflow":
            paths = ["apply_rows"]  # `apply` needs tf.IndexedSlices
        for path, projection in (
            (path, projection)
            for path in paths
            for projection in ("ball", "sphere", None)
        ):
            opt = kdl.optimizers.RowSparseAdam(0.05)
            table, start, batches, targets, norms = PATHS[path](opt, projection)
            codes = table.codes
            # Rows never in a batch: bitwise unchanged, moments exactly 0.
            self.assertTrue(np.array_equal(codes[TOUCHED:], start[TOUCHED:]))
            m, v = slot(opt, "momentum"), slot(opt, "velocity")
            for values in (m, v):
                values = ops.convert_to_numpy(values)
                self.assertTrue(np.all(values[TOUCHED:] == 0.0))
            want_w, want_m, want_v = np_lazy_adam(
                start, batches, targets, 0.05, projection
            )
            self.assertAllClose(codes, want_w, atol=2e-5, rtol=1e-4)
            self.assertAllClose(m, want_m, atol=2e-5, rtol=1e-4)
            self.assertAllClose(v, want_v, atol=2e-6, rtol=1e-4)
            # Every code on the ball / sphere after every step.
            if projection == "ball":
                self.assertLessEqual(norms.max(), 1.0 + 1e-6)
            elif projection == "sphere":
                self.assertAllClose(norms, np.ones_like(norms), atol=1e-6)

    @skip_unless_tensorflow("`apply` of a dense gradient")
    def test_dense_gradient_is_keras_adam_then_constraint(self):
        grad = np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 2.0]], "float32")
        ours, theirs = (
            kdl.optimizers.RowSparseAdam(0.1),
            keras.optimizers.Adam(0.1),
        )
        var = constrained(np.full((3, 2), 0.5, "f4"))
        ref = constrained(np.full((3, 2), 0.5, "f4"))
        for _ in range(3):
            ours.apply([grad], [var])
            theirs.apply([grad], [ref])
        self.assertAllClose(var, ref)
        norms = np.linalg.norm(ops.convert_to_numpy(var), axis=1)
        self.assertLessEqual(norms.max(), 1.0 + 1e-6)

    def test_config_and_errors(self):
        opt = kdl.optimizers.RowSparseAdam(0.03, beta_1=0.8)
        revived = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
        self.assertIsInstance(revived, kdl.optimizers.RowSparseAdam)
        self.assertEqual(revived.get_config(), opt.get_config())
        # An Adam config (amsgrad=False) is accepted.
        adam_config = keras.optimizers.Adam(0.03).get_config()
        revived = kdl.optimizers.RowSparseAdam.from_config(adam_config)
        self.assertEqual(revived.beta_2, 0.999)
        with self.assertRaisesRegex(ValueError, "amsgrad"):
            kdl.optimizers.RowSparseAdam(amsgrad=True)
        for kwargs, name in (
            ({"beta_1": 1.0}, "beta_1"),
            ({"beta_2": -0.1}, "beta_2"),
            ({"epsilon": 0.0}, "epsilon"),
            ({"amsgrad": "no"}, "amsgrad"),
        ):
            with self.assertRaisesRegex(ValueError, f"{name}="):
                kdl.optimizers.RowSparseAdam(**kwargs)
