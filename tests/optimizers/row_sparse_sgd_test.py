"""RowSparseSGD: lazy (momentum) SGD against NumPy, dense against Keras."""

import keras
import numpy as np
from keras import ops

import kdl
from tests.optimizers.row_sparse_testing import TOUCHED
from tests.optimizers.row_sparse_testing import constrained
from tests.optimizers.row_sparse_testing import np_lazy_sgd
from tests.optimizers.row_sparse_testing import slot
from tests.optimizers.row_sparse_testing import train
from tests.optimizers.row_sparse_testing import train_rows
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow


class RowSparseSGDTest(TestCase):
    def test_lazy_sgd_and_momentum_match_numpy(self):
        # `apply` (TensorFlow's sparse gradients) and `apply_rows` (any
        # backend) against the same reference.
        paths = ["apply", "apply_rows"]
        if backend() != "tensorflow":
            paths = ["apply_rows"]
        for path, momentum, nesterov in (
            (path, momentum, nesterov)
            for path in paths
            for momentum, nesterov in ((0.0, False), (0.9, False), (0.9, True))
        ):
            opt = kdl.optimizers.RowSparseSGD(
                0.1, momentum=momentum, nesterov=nesterov
            )
            if path == "apply":
                table, start, batches, targets, norms = train(
                    opt, "ball", steps=15, graph=momentum == 0.9
                )
            else:
                table, start, batches, targets, norms = train_rows(
                    opt, "ball", steps=15
                )
            codes = table.codes
            self.assertTrue(np.array_equal(codes[TOUCHED:], start[TOUCHED:]))
            want, want_m = np_lazy_sgd(
                start, batches, targets, 0.1, momentum, nesterov, "ball"
            )
            self.assertAllClose(codes, want, atol=2e-5, rtol=1e-4)
            if momentum:
                self.assertAllClose(
                    slot(opt, "momentum"), want_m, atol=2e-5, rtol=1e-4
                )
            else:
                self.assertEqual(len(opt.variables), 2)  # no slots
            self.assertLessEqual(norms.max(), 1.0 + 1e-6)

    @skip_unless_tensorflow("`apply` of a dense gradient")
    def test_dense_gradient_is_keras_sgd_then_constraint(self):
        grad = np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 2.0]], "float32")
        for kwargs in ({"momentum": 0.9, "nesterov": True}, {}):
            ours = kdl.optimizers.RowSparseSGD(0.4, **kwargs)
            theirs = keras.optimizers.SGD(0.4, **kwargs)
            var = constrained(np.full((3, 2), 0.5, "f4"))
            ref = constrained(np.full((3, 2), 0.5, "f4"))
            for _ in range(3):
                ours.apply([grad], [var])
                theirs.apply([grad], [ref])
            self.assertAllClose(var, ref)
            norms = np.linalg.norm(ops.convert_to_numpy(var), axis=1)
            self.assertLessEqual(norms.max(), 1.0 + 1e-6)

    def test_config_and_errors(self):
        opt = kdl.optimizers.RowSparseSGD(0.03, momentum=0.5, nesterov=True)
        revived = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
        self.assertIsInstance(revived, kdl.optimizers.RowSparseSGD)
        self.assertEqual(revived.get_config(), opt.get_config())
        # A Keras SGD config is accepted.
        sgd_config = keras.optimizers.SGD(0.03, momentum=0.9).get_config()
        revived = kdl.optimizers.RowSparseSGD.from_config(sgd_config)
        self.assertEqual(revived.momentum, 0.9)
        for momentum in (1.5, -0.1, True, "0.9"):
            with self.assertRaisesRegex(ValueError, "momentum="):
                kdl.optimizers.RowSparseSGD(momentum=momentum)
        with self.assertRaisesRegex(ValueError, "nesterov="):
            kdl.optimizers.RowSparseSGD(momentum=0.9, nesterov="yes")
