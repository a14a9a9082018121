"""kdl.layers.LatentTable: layer contract, projection, index errors."""

import os

import keras
import numpy as np

import kdl
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import jit


def _compiled_index_error():
    """What an out-of-range index raises inside a compiled function."""
    if backend() == "tensorflow":
        import tensorflow as tf

        return tf.errors.InvalidArgumentError
    import jax

    return jax.errors.JaxRuntimeError


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

    def test_projection_is_the_embeddings_constraint(self):
        for projection, cls in (
            ("ball", kdl.constraints.UnitBallRows),
            ("Sphere", kdl.constraints.UnitSphereRows),
        ):
            table = kdl.layers.LatentTable(5, 2, projection=projection)
            table.build()
            self.assertIsInstance(table.embeddings_constraint, cls)
            self.assertIs(
                table.embeddings.constraint, table.embeddings_constraint
            )
        for projection in (None, "none"):
            table = kdl.layers.LatentTable(5, 2, projection=projection)
            table.build()
            self.assertIsNone(table.embeddings.constraint)

    def test_plain_keras_optimizers_keep_the_codes_projected(self):
        # Every Keras optimizer applies the table's constraint after each
        # step (densely), not only kdl's row-sparse ones.
        idx = np.arange(200)
        y = np.random.RandomState(0).normal(scale=5.0, size=(200, 16))
        for optimizer in (
            lambda: keras.optimizers.Adam(0.1),
            lambda: keras.optimizers.SGD(0.5, momentum=0.9),
        ):
            max_norm = {}
            for projection in ("ball", "sphere", None):
                table = kdl.layers.LatentTable(200, 8, projection=projection)
                model = keras.Sequential(
                    [
                        keras.Input(shape=(), dtype="int32"),
                        table,
                        keras.layers.Dense(16),
                    ]
                )
                model.compile(optimizer=optimizer(), loss="mse")
                model.fit(idx, y, batch_size=20, epochs=3, verbose=0)
                norms = np.linalg.norm(table.codes, axis=1)
                max_norm[projection] = norms.max()
                if projection == "ball":
                    self.assertLessEqual(norms.max(), 1.0 + 1e-6)
                elif projection == "sphere":
                    self.assertAllClose(norms, np.ones(200), atol=1e-6)
            # Without a projection the same training leaves the ball.
            self.assertGreater(max_norm[None], 1.5)

    def test_keras_round_trip_keeps_the_constraint(self):
        idx = np.arange(30)
        y = np.random.RandomState(1).normal(scale=5.0, size=(30, 3))
        for projection in ("ball", "sphere"):
            model = keras.Sequential(
                [
                    keras.Input(shape=(), dtype="int32"),
                    kdl.layers.LatentTable(30, 4, projection=projection),
                    keras.layers.Dense(3),
                ]
            )
            model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
            model.fit(idx, y, epochs=1, verbose=0)
            path = os.path.join(self.get_temp_dir(), f"{projection}.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
            table = loaded.layers[0]
            self.assertIsInstance(
                table.embeddings.constraint,
                type(model.layers[0].embeddings_constraint),
            )
            self.assertTrue(np.array_equal(table.codes, model.layers[0].codes))
            loaded.fit(idx, y, epochs=2, verbose=0)
            norms = np.linalg.norm(table.codes, axis=1)
            self.assertLessEqual(norms.max(), 1.0 + 1e-6)

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

        lookup = jit(table, jit_compile=False)  # tf.function / jax.jit
        error = _compiled_index_error()
        with self.assertRaisesRegex(error, "num_examples=10"):
            np.asarray(lookup(np.array([1, 10], "int32")))
        with self.assertRaisesRegex(error, "num_examples=10"):
            np.asarray(lookup(np.array([-1, 2], "int32")))
        good = lookup(np.array([0, 9], "int32"))
        self.assertEqual(tuple(good.shape), (2, 2))

    def test_out_of_range_index_in_fit(self):
        model = keras.Sequential(
            [
                keras.Input(shape=(), dtype="int32"),
                kdl.layers.LatentTable(10, 2),
                keras.layers.Dense(1),
            ]
        )
        if backend() == "tensorflow":
            optimizer = kdl.optimizers.RowSparseSGD(0.1)
        else:  # the row-sparse optimizers are TensorFlow-only
            optimizer = keras.optimizers.SGD(0.1)
        model.compile(optimizer=optimizer, loss="mse")
        with self.assertRaisesRegex(_compiled_index_error(), "num_examples=10"):
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
        for bad in (0, 2.5, True, "4"):
            with self.assertRaisesRegex(ValueError, "num_examples="):
                cls(bad, 4)
            with self.assertRaisesRegex(ValueError, "latent_dim="):
                cls(4, bad)
        with self.assertRaisesRegex(ValueError, "projection"):
            cls(4, 4, projection="cube")
        with self.assertRaisesRegex(ValueError, "integer"):
            cls(4, 2)(np.array(["a"]))

    def test_float_indices_are_an_error_not_a_truncation(self):
        # Before: 1.5 was cast to 1 and row 1 returned.
        table = kdl.layers.LatentTable(4, 2)
        for dtype in ("float32", "float64", "float16"):
            # (Keras casts float inputs to the compute dtype first.)
            with self.assertRaisesRegex(
                ValueError, "`indices`.*Received: indices.dtype=float"
            ):
                table(np.array([1.5, 2.0], dtype))
        with self.assertRaisesRegex(ValueError, "indices.dtype=float32"):
            kdl.layers.LatentTable(4, 2)(keras.Input(shape=()))
        for dtype in ("int32", "int64", "uint8"):
            self.assertEqual(
                tuple(table(np.array([1, 3], dtype)).shape), (2, 2)
            )
