"""The contract every kdl.constraints.RowConstraint keeps (one suite)."""

import os

import keras
import numpy as np
from keras import ops

import kdl
from tests.test_case import TestCase

ROW_CONSTRAINTS = (kdl.constraints.UnitBallRows, kdl.constraints.UnitSphereRows)


def weights(seed=0, shape=(12, 5)):
    """Rows inside, on and outside the unit ball, and a zero row."""
    rng = np.random.RandomState(seed)
    w = rng.normal(size=shape) * rng.uniform(0.1, 3.0, size=shape[:-1] + (1,))
    w[0] = 0.0
    w[1] = [0.6, 0.8, 0.0, 0.0, 0.0][: shape[-1]]
    return w.astype("float32")


class RowConstraintTest(TestCase):
    def test_rows_are_independent(self):
        # Constraining some rows equals constraining all, then gathering:
        # what lets the row-sparse optimizers project the batch rows only.
        w = weights()
        rows = [2, 7, 7, 11]
        for cls in ROW_CONSTRAINTS:
            with self.subTest(cls.__name__):
                constraint = cls()
                whole = ops.convert_to_numpy(constraint(w))
                some = ops.convert_to_numpy(constraint(w[rows]))
                self.assertTrue(np.array_equal(some, whole[rows]))
                # Any leading shape: the last axis is the row.
                batched = constraint(w.reshape(3, 4, 5))
                self.assertAllClose(batched, whole.reshape(3, 4, 5))

    def test_idempotent_and_dtype_preserving(self):
        w = weights(1)
        for cls in ROW_CONSTRAINTS:
            with self.subTest(cls.__name__):
                constraint = cls()
                once = constraint(w)
                self.assertAllClose(constraint(once), once, atol=1e-7)
                variable = keras.Variable(w)
                self.assertEqual(
                    keras.backend.standardize_dtype(constraint(variable).dtype),
                    "float32",
                )

    def test_serialization(self):
        for cls in ROW_CONSTRAINTS:
            with self.subTest(cls.__name__):
                blob = keras.constraints.serialize(cls())
                self.assertEqual(blob["registered_name"], f"kdl>{cls.__name__}")
                revived = keras.constraints.deserialize(blob)
                self.assertIsInstance(revived, cls)
                self.assertEqual(revived.get_config(), cls().get_config())
                self.assertIsInstance(keras.constraints.get(blob), cls)

    def test_keras_round_trip_as_a_layer_constraint(self):
        for cls in ROW_CONSTRAINTS:
            with self.subTest(cls.__name__):
                model = keras.Sequential(
                    [
                        keras.Input(shape=(), dtype="int32"),
                        keras.layers.Embedding(
                            20, 4, embeddings_constraint=cls()
                        ),
                    ]
                )
                path = os.path.join(self.get_temp_dir(), "model.keras")
                model.save(path)
                loaded = keras.saving.load_model(path)
                constraint = loaded.layers[0].embeddings.constraint
                self.assertIsInstance(constraint, cls)

    def test_plain_keras_optimizer_applies_it(self):
        for cls in ROW_CONSTRAINTS:
            with self.subTest(cls.__name__):
                variable = keras.Variable(weights(2))
                variable.constraint = cls()
                keras.optimizers.SGD(0.1).apply(
                    [np.ones((12, 5), "float32")], [variable]
                )
                norms = np.linalg.norm(ops.convert_to_numpy(variable), axis=1)
                self.assertLessEqual(norms.max(), 1.0 + 1e-6)

    def test_base_class_is_abstract(self):
        with self.assertRaisesRegex(NotImplementedError, "__call__"):
            kdl.constraints.RowConstraint()(np.ones((2, 2), "float32"))
