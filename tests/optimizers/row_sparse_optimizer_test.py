"""RowSparseOptimizer: the subclass contract, row constraints, Embedding,
mixed precision and distribution (shared by RowSparseSGD and RowSparseAdam).

`apply` (sparse `tf.IndexedSlices` gradients, Keras's `fit`) is TensorFlow
only, so are most tests here; `apply_rows` is tested on every backend."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import kdl
from tests.optimizers.row_sparse_testing import DIM
from tests.optimizers.row_sparse_testing import ROWS
from tests.optimizers.row_sparse_testing import TOUCHED
from tests.optimizers.row_sparse_testing import RecordingBall
from tests.optimizers.row_sparse_testing import constrained
from tests.optimizers.row_sparse_testing import np_lazy_sgd
from tests.optimizers.row_sparse_testing import slot
from tests.optimizers.row_sparse_testing import train
from tests.optimizers.row_sparse_testing import train_rows
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy

tensorflow_apply = skip_unless_tensorflow(
    "`apply` takes tf.IndexedSlices gradients"
)


class PlainRowSGD(kdl.optimizers.RowSparseOptimizer):
    """The base class's docstring example: SGD without momentum."""

    def dense_update(self, gradient, variable, slots, learning_rate):
        self.assign_sub(variable, learning_rate * gradient)

    def row_update(self, gradient, rows, slot_rows, learning_rate):
        return rows - learning_rate * gradient, []


class RowSparseOptimizerTest(TestCase):
    @tensorflow_apply
    def test_a_subclass_gets_row_updates_constraints_and_dense_steps(self):
        opt = PlainRowSGD(learning_rate=0.1)
        self.assertIsInstance(opt, kdl.optimizers.RowSparseOptimizer)
        self.assertIsInstance(
            kdl.optimizers.RowSparseAdam(), kdl.optimizers.RowSparseOptimizer
        )
        self.assertEqual(opt.slot_names(), ())
        table, start, batches, targets, norms = train(opt, "ball", steps=10)
        want, _ = np_lazy_sgd(start, batches, targets, 0.1, 0.0, False, "ball")
        self.assertAllClose(table.codes, want, atol=2e-5, rtol=1e-4)
        self.assertTrue(np.array_equal(table.codes[TOUCHED:], start[TOUCHED:]))
        self.assertLessEqual(norms.max(), 1.0 + 1e-6)
        # Dense: the rule on the whole variable, then the constraint.
        var = constrained(np.full((3, 2), 0.5, "f4"))
        PlainRowSGD(learning_rate=1.0).apply([np.ones((3, 2), "f4")], [var])
        self.assertAllClose(var, np.full((3, 2), -0.5, "f4"))
        # A variable the optimizer was not built with is named.
        other = keras.Variable(np.zeros((3, 2), "f4"), name="stranger")
        with self.assertRaisesRegex(ValueError, "not built with.*stranger"):
            opt.update_step(tf.zeros((3, 2)), other, 0.1)
        # The base class alone implements no rule.
        with self.assertRaises(NotImplementedError):
            kdl.optimizers.RowSparseOptimizer(0.1).apply(
                [np.ones((3, 2), "f4")], [keras.Variable(np.zeros((3, 2)))]
            )

    @tensorflow_apply
    def test_sparse_step_does_not_touch_other_rows_in_fit(self):
        table = kdl.layers.LatentTable(100, 4, projection="ball")
        model = keras.Sequential(
            [keras.Input(shape=(), dtype="int32"), table, keras.layers.Dense(3)]
        )
        model.compile(optimizer=kdl.optimizers.RowSparseAdam(0.1), loss="mse")
        start = table.codes.copy()
        idx = np.arange(0, 100, 7)
        y = np.random.RandomState(0).normal(size=(len(idx), 3))
        model.fit(idx, y, batch_size=5, epochs=3, verbose=0)
        changed = np.where((table.codes != start).any(axis=1))[0]
        self.assertEqual(changed.tolist(), idx.tolist())

    @tensorflow_apply
    def test_sparse_step_never_constrains_the_whole_table(self):
        # A step must cost O(batch): the row constraint is applied to the
        # updated rows only, never to the (ROWS, DIM) table.
        for opt in (
            kdl.optimizers.RowSparseAdam(0.5),
            kdl.optimizers.RowSparseSGD(2.0, momentum=0.9),
        ):
            constraint = RecordingBall()
            table = constrained(np.full((ROWS, DIM), 0.1, "f4"), constraint)
            start = ops.convert_to_numpy(table)
            idx = tf.constant([1, 4, 4, 7])

            @tf.function
            def step(idx):
                with tf.GradientTape() as tape:
                    loss = -ops.sum(tf.gather(table.value, idx))
                opt.apply(tape.gradient(loss, [table]), [table])

            for _ in range(3):
                step(idx)
            self.assertTrue(constraint.shapes)
            self.assertNotIn((ROWS, DIM), constraint.shapes)
            codes = ops.convert_to_numpy(table)
            norms = np.linalg.norm(codes, axis=1)
            # Touched rows projected onto the sphere (they left the ball),
            # the others bitwise unchanged.
            self.assertAllClose(norms[[1, 4, 7]], np.ones(3), atol=1e-6)
            others = np.setdiff1d(np.arange(ROWS), [1, 4, 7])
            self.assertTrue(np.array_equal(codes[others], start[others]))
        # Keras's own optimizers apply it to the whole table (densely).
        constraint = RecordingBall()
        table = constrained(np.ones((ROWS, DIM), "f4"), constraint)
        grad = tf.IndexedSlices(
            tf.ones((1, DIM)), tf.constant([0]), tf.constant([ROWS, DIM])
        )
        keras.optimizers.SGD(0.1).apply([grad], [table])
        self.assertIn((ROWS, DIM), constraint.shapes)

    @tensorflow_apply
    def test_other_constraints_stay_dense_and_embedding_works(self):
        # A constraint that is not a RowConstraint is applied by Keras.
        var = constrained(
            np.full((6, 2), 0.5, "f4"), keras.constraints.NonNeg()
        )
        grad = tf.IndexedSlices(
            tf.constant([[1.0, -1.0]]), tf.constant([2]), tf.constant([6, 2])
        )
        kdl.optimizers.RowSparseSGD(1.0).apply([grad], [var])
        want = np.full((6, 2), 0.5, "f4")
        want[2] = [0.0, 1.5]
        self.assertAllClose(var, want)
        # A Keras Embedding with a kdl row constraint, sparse Adam.
        embedding = keras.layers.Embedding(
            50, 3, embeddings_constraint=kdl.constraints.UnitSphereRows()
        )
        model = keras.Sequential(
            [keras.Input(shape=(), dtype="int32"), embedding]
        )
        model.compile(optimizer=kdl.optimizers.RowSparseAdam(0.1), loss="mse")
        start = ops.convert_to_numpy(embedding.embeddings)
        idx = np.array([3, 9, 9, 20])
        model.fit(idx, np.ones((4, 3)), epochs=2, verbose=0)
        codes = ops.convert_to_numpy(embedding.embeddings)
        norms = np.linalg.norm(codes[[3, 9, 20]], axis=1)
        self.assertAllClose(norms, np.ones(3), atol=1e-6)
        others = np.setdiff1d(np.arange(50), idx)
        self.assertTrue(np.array_equal(codes[others], start[others]))

    @tensorflow_apply
    def test_mixed_float16_loss_scaling_stays_sparse(self):
        keras.config.set_dtype_policy("mixed_float16")
        table = kdl.layers.LatentTable(60, 4)
        model = keras.Sequential(
            [keras.Input(shape=(), dtype="int32"), table, keras.layers.Dense(3)]
        )
        model.compile(optimizer=kdl.optimizers.RowSparseAdam(0.1), loss="mse")
        self.assertIsInstance(
            model.optimizer, keras.optimizers.LossScaleOptimizer
        )
        start = table.codes.copy()
        idx = np.arange(0, 60, 4)
        y = np.random.RandomState(2).normal(scale=5.0, size=(len(idx), 3))
        model.fit(idx, y, batch_size=5, epochs=3, verbose=0)
        changed = np.where((table.codes != start).any(axis=1))[0]
        self.assertEqual(changed.tolist(), idx.tolist())
        norms = np.linalg.norm(table.codes, axis=1)
        self.assertLessEqual(norms.max(), 1.0 + 1e-6)

    @tensorflow_apply
    def test_two_replicas_update_the_same_rows_as_one(self):
        idx = np.array([3, 5, 5, 9, 12, 3, 30, 31, 1, 2, 8, 5, 13, 14, 3, 0])
        y = np.random.RandomState(1).normal(size=(len(idx), 3)).astype("f4")

        def fit(strategy):
            keras.utils.set_random_seed(7)
            with strategy.scope():
                table = kdl.layers.LatentTable(40, 4, projection="ball")
                model = keras.Sequential(
                    [
                        keras.Input(shape=(), dtype="int32"),
                        table,
                        keras.layers.Dense(3),
                    ]
                )
                model.compile(
                    optimizer=kdl.optimizers.RowSparseAdam(0.1), loss="mse"
                )
            start = table.codes.copy()
            model.fit(idx, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
            return table, start, model

        one, start_one, _ = fit(tf.distribute.get_strategy())
        two, start_two, model_two = fit(two_replica_strategy())
        self.assertTrue(np.array_equal(start_one, start_two))
        changed_one = (one.codes != start_one).any(axis=1)
        changed_two = (two.codes != start_two).any(axis=1)
        self.assertEqual(changed_one.tolist(), changed_two.tolist())
        self.assertEqual(
            np.where(changed_one)[0].tolist(), sorted(set(idx.tolist()))
        )
        self.assertAllClose(two.codes, one.codes, atol=1e-6)
        # Both mirrored copies hold the same table.
        copies = two.embeddings.value.values
        self.assertLen(copies, 2)
        self.assertTrue(np.array_equal(copies[0].numpy(), copies[1].numpy()))
        slots = slot(model_two.optimizer, "momentum", (40, 4)).value.values
        self.assertTrue(np.array_equal(slots[0].numpy(), slots[1].numpy()))

    def test_apply_rows_on_any_backend(self):
        # The subclass contract through `apply_rows`: duplicates summed,
        # rows constrained (only the batch rows), others bitwise unchanged,
        # one iteration per call.
        opt = PlainRowSGD(learning_rate=0.1)
        table, start, batches, targets, norms = train_rows(
            opt, "ball", steps=10
        )
        want, _ = np_lazy_sgd(start, batches, targets, 0.1, 0.0, False, "ball")
        self.assertAllClose(table.codes, want, atol=2e-5, rtol=1e-4)
        self.assertTrue(np.array_equal(table.codes[TOUCHED:], start[TOUCHED:]))
        self.assertLessEqual(norms.max(), 1.0 + 1e-6)
        self.assertEqual(int(opt.iterations), 10)
        constraint = RecordingBall()
        variable = constrained(np.full((ROWS, DIM), 0.1, "f4"), constraint)
        adam = kdl.optimizers.RowSparseAdam(0.5)
        adam.build([variable])
        adam.apply_rows(-np.ones((3, DIM), "f4"), variable, [1, 4, 4])
        self.assertEqual(constraint.shapes, [(3, DIM)])
        # A skipped step (an overflow: non-finite gradients) changes no
        # row, slot or step count; `skip=False` is an ordinary step.
        before = [np.array(v) for v in [variable] + adam.variables]
        bad = np.full((3, DIM), np.inf, "f4")
        adam.apply_rows(bad, variable, [1, 4, 4], skip=True)
        for b, v in zip(before, [variable] + adam.variables):
            self.assertTrue(np.array_equal(np.array(v), b), v.path)
        adam.apply_rows(
            np.full((2, DIM), 10.0, "f4"), variable, [1, 4], skip=False
        )
        self.assertEqual(int(adam.iterations), 2)
        changed = (np.array(variable) != before[0]).any(axis=1)
        self.assertEqual(np.where(changed)[0].tolist(), [1, 4])
        # Base options that only `apply` implements are refused.
        for kwargs, name in (
            ({"clipnorm": 1.0}, "clipnorm"),
            ({"weight_decay": 0.1}, "weight_decay"),
            ({"use_ema": True}, "use_ema"),
        ):
            opt = kdl.optimizers.RowSparseSGD(0.1, **kwargs)
            with self.assertRaisesRegex(ValueError, f"{name}="):
                opt.apply_rows(np.ones((1, DIM), "f4"), variable, [0])
        # A gradient not shaped as the rows, an index outside the table.
        with self.assertRaisesRegex(ValueError, r"gradient.shape=\(3, 5\)"):
            adam.apply_rows(np.ones((3, DIM), "f4"), variable, [1, 4])
        with self.assertRaisesRegex(ValueError, f"max={ROWS}"):
            adam.apply_rows(np.ones((2, DIM), "f4"), variable, [0, ROWS])
        with self.assertRaisesRegex(ValueError, "min=-1"):
            adam.apply_rows(np.ones((1, DIM), "f4"), variable, [-1])
        if backend() == "tensorflow":  # in a graph: an assertion
            step = tf.function(
                lambda i: adam.apply_rows(np.ones((1, DIM), "f4"), variable, i)
            )
            with self.assertRaisesRegex(
                tf.errors.InvalidArgumentError, r"must be in \[0, 40\)"
            ):
                step(tf.constant([ROWS]))
        other = keras.Variable(np.zeros((3, 2), "f4"), name="stranger")
        with self.assertRaisesRegex(ValueError, "not built with.*stranger"):
            adam.apply_rows(np.ones((1, 2), "f4"), other, [0])

    def test_apply_needs_tensorflow(self):
        if backend() == "tensorflow":
            self.skipTest("`apply` runs on TensorFlow (tested above)")
        opt = kdl.optimizers.RowSparseAdam(0.1)
        variable = keras.Variable(np.zeros((3, 2), "f4"))
        with self.assertRaisesRegex(NotImplementedError, "apply_rows"):
            opt.apply([np.ones((3, 2), "f4")], [variable])
