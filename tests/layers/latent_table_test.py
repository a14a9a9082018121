"""kdl.layers.LatentTable: layer contract, projection, index errors."""

import keras
import numpy as np
import tensorflow as tf

import kdl
from tests.test_case import TestCase


class LatentTableTest(TestCase):
    def test_layer_contract(self):
        self.run_layer_test(
            kdl.layers.LatentTable,
            {"num_examples": 20, "latent_dim": 4, "projection": "ball"},
            input_data=np.array([0, 3, 5, 19, 3, 7], "int32"),
            expected_output_shape=(6, 4),
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            supports_masking=False,
        )

    def test_lookup_returns_the_rows(self):
        table = kdl.layers.LatentTable(6, 3, projection=None)
        table.build()
        codes = np.arange(18, dtype="float32").reshape(6, 3)
        table.set_codes(codes)
        out = table(np.array([[5, 0], [2, 2]]))
        self.assertEqual(tuple(out.shape), (2, 2, 3))
        self.assertAllEqual(out, codes[[[5, 0], [2, 2]]])
        self.assertAllEqual(table.codes, codes)

    def test_initial_projection(self):
        for projection in ("ball", "sphere"):
            table = kdl.layers.LatentTable(500, 16, projection=projection)
            table.build()
            norms = np.linalg.norm(table.codes, axis=1)
            self.assertLessEqual(norms.max(), 1.0 + 1e-6)
            if projection == "sphere":
                self.assertAllClose(norms, np.ones(500), atol=1e-6)
        table = kdl.layers.LatentTable(
            500, 16, projection="ball", initializer="zeros"
        )
        table.build()
        self.assertTrue(np.all(table.codes == 0))
        # No projection: the initializer's N(0, 1) values as they are.
        table = kdl.layers.LatentTable(500, 16, projection="none")
        table.build()
        self.assertIsNone(table.projection)
        self.assertGreater(np.linalg.norm(table.codes, axis=1).mean(), 3.0)

    def test_set_codes_projects_and_checks_shape(self):
        table = kdl.layers.LatentTable(3, 2, projection="ball")
        table.set_codes([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
        want = np.array([[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]])
        self.assertAllClose(table.codes, want, atol=1e-7)
        with self.assertRaisesRegex(ValueError, "codes"):
            table.set_codes(np.zeros((4, 2)))

    def test_out_of_range_index_is_an_error_not_a_clamp(self):
        table = kdl.layers.LatentTable(10, 2)
        table.build()
        for bad in ([0, 10], [-1, 2], [3, 1000]):
            with self.assertRaisesRegex(ValueError, "num_examples=10"):
                table(np.array(bad, "int32"))

        @tf.function
        def lookup(idx):
            return table(idx)

        with self.assertRaisesRegex(
            tf.errors.InvalidArgumentError, "num_examples=10"
        ):
            lookup(tf.constant([1, 10]))
        with self.assertRaisesRegex(
            tf.errors.InvalidArgumentError, "num_examples=10"
        ):
            lookup(tf.constant([-1, 2]))
        self.assertEqual(tuple(lookup(tf.constant([0, 9])).shape), (2, 2))

    def test_out_of_range_index_in_fit(self):
        model = keras.Sequential(
            [
                keras.Input(shape=(), dtype="int32"),
                kdl.layers.LatentTable(10, 2),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer=kdl.optimizers.RowSparseSGD(0.1), loss="mse")
        with self.assertRaisesRegex(
            tf.errors.InvalidArgumentError, "num_examples=10"
        ):
            model.fit(
                np.array([1, 2, 12]), np.zeros((3, 1)), verbose=0, epochs=1
            )

    def test_mixed_precision_keeps_a_float32_table(self):
        keras.config.set_dtype_policy("mixed_float16")
        table = kdl.layers.LatentTable(8, 3)
        out = table(np.array([1, 2]))
        self.assertEqual(keras.backend.standardize_dtype(out.dtype), "float16")
        self.assertEqual(table.embeddings.dtype, "float32")

    def test_argument_errors(self):
        cls = kdl.layers.LatentTable
        with self.assertRaisesRegex(ValueError, "num_examples"):
            cls(0, 4)
        with self.assertRaisesRegex(ValueError, "latent_dim"):
            cls(4, 0)
        with self.assertRaisesRegex(ValueError, "projection"):
            cls(4, 4, projection="cube")
        with self.assertRaisesRegex(ValueError, "integer"):
            cls(4, 2)(np.array(["a"]))
