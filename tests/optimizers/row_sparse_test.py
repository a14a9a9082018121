"""Row-sparse SGD / lazy Adam: NumPy references, constraints, distribution."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import kdl
from tests.test_case import TestCase
from tests.test_case import two_replica_strategy

ROWS, DIM, BATCH, TOUCHED = 40, 5, 8, 16


def np_project(rows, projection):
    norm = np.linalg.norm(rows, axis=-1, keepdims=True)
    if projection == "ball":
        return rows / np.maximum(norm, 1.0)
    if projection == "sphere":
        return rows / np.maximum(norm, 1e-12)
    return rows


def row_grads(table, idx, targets):
    """d/dz of 0.5 * sum_b |z[idx_b] - t_b|^2, summed per unique row."""
    grads = {}
    for b, i in enumerate(idx):
        g = table[i] - targets[b]
        grads[i] = grads.get(i, 0.0) + g
    return grads


def np_lazy_adam(table, batches, targets, lr, projection, b1=0.9, b2=0.999):
    eps = 1e-7
    w = table.astype("float64").copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (idx, tgt) in enumerate(zip(batches, targets), start=1):
        grads = row_grads(w, idx, tgt)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        for i, g in grads.items():
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            w[i] = w[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
            w[i] = np_project(w[i], projection)
    return w, m, v


def np_lazy_sgd(table, batches, targets, lr, momentum, nesterov, projection):
    w = table.astype("float64").copy()
    mom = np.zeros_like(w)
    for idx, tgt in zip(batches, targets):
        for i, g in row_grads(w, idx, tgt).items():
            if momentum:
                mom[i] = momentum * mom[i] - lr * g
                step = momentum * mom[i] - lr * g if nesterov else mom[i]
            else:
                step = -lr * g
            w[i] = np_project(w[i] + step, projection)
    return w, mom


def slot(optimizer, name, shape=(ROWS, DIM)):
    """The one `shape` slot variable named `*_{name}` (public API only)."""
    found = [
        v
        for v in optimizer.variables
        if v.name.endswith("_" + name) and tuple(v.shape) == shape
    ]
    assert len(found) == 1, [v.name for v in optimizer.variables]
    return found[0]


def constrained(value, constraint=None):
    """A `keras.Variable` with a constraint (as `Layer.add_weight` sets it)."""
    variable = keras.Variable(value)
    variable.constraint = constraint or kdl.constraints.UnitBallRows()
    return variable


class RecordingBall(kdl.constraints.UnitBallRows):
    """The ball constraint, recording the static shape of what it is given."""

    def __init__(self):
        self.shapes = []

    def __call__(self, w):
        self.shapes.append(tuple(w.shape))
        return super().__call__(w)


def make_batches(steps, seed=0):
    rng = np.random.RandomState(seed)
    # Only rows < TOUCHED are ever in a batch; duplicates happen.
    batches = [rng.randint(0, TOUCHED, size=BATCH) for _ in range(steps)]
    targets = [rng.normal(size=(BATCH, DIM)) for _ in range(steps)]
    return batches, targets


class RowSparseOptimizerTest(TestCase):
    def _train(self, optimizer, projection, steps=25, graph=True):
        table = kdl.layers.LatentTable(ROWS, DIM, projection=projection)
        table.build()
        start = table.codes.copy()
        batches, targets = make_batches(steps)

        def step(idx, tgt):
            with tf.GradientTape() as tape:
                z = table(idx)
                loss = 0.5 * ops.sum(ops.square(z - tgt))
            grad = tape.gradient(loss, [table.embeddings])
            optimizer.apply(grad, [table.embeddings])
            return grad[0]

        fn = tf.function(step) if graph else step
        norms = []
        for idx, tgt in zip(batches, targets):
            grad = fn(tf.constant(idx, "int32"), tf.constant(tgt, "float32"))
            norms.append(np.linalg.norm(table.codes, axis=1))
        self.assertIsInstance(grad, tf.IndexedSlices)
        return table, start, batches, targets, np.stack(norms)

    def test_lazy_adam_matches_numpy_and_leaves_other_rows_bitwise(self):
        for projection in ("ball", "sphere", None):
            opt = kdl.optimizers.RowSparseAdam(0.05)
            table, start, batches, targets, norms = self._train(opt, projection)
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

    def test_lazy_sgd_and_momentum_match_numpy(self):
        for momentum, nesterov in ((0.0, False), (0.9, False), (0.9, True)):
            opt = kdl.optimizers.RowSparseSGD(
                0.1, momentum=momentum, nesterov=nesterov
            )
            table, start, batches, targets, norms = self._train(
                opt, "ball", steps=15, graph=momentum == 0.9
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

    def test_dense_gradient_is_plain_keras_then_constraint(self):
        grad = np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 2.0]], "float32")
        for ours, theirs in (
            (kdl.optimizers.RowSparseAdam(0.1), keras.optimizers.Adam(0.1)),
            (
                kdl.optimizers.RowSparseSGD(0.4, momentum=0.9, nesterov=True),
                keras.optimizers.SGD(0.4, momentum=0.9, nesterov=True),
            ),
            (kdl.optimizers.RowSparseSGD(0.4), keras.optimizers.SGD(0.4)),
        ):
            var = constrained(np.full((3, 2), 0.5, "f4"))
            ref = constrained(np.full((3, 2), 0.5, "f4"))
            for _ in range(3):
                ours.apply([grad], [var])
                theirs.apply([grad], [ref])
            self.assertAllClose(var, ref)
            self.assertLessEqual(
                np.linalg.norm(ops.convert_to_numpy(var), axis=1).max(),
                1.0 + 1e-6,
            )

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

    def test_config_and_errors(self):
        for cls, kwargs in (
            (kdl.optimizers.RowSparseAdam, {"beta_1": 0.8}),
            (kdl.optimizers.RowSparseSGD, {"momentum": 0.5}),
        ):
            opt = cls(0.03, **kwargs)
            blob = keras.optimizers.serialize(opt)
            revived = keras.optimizers.deserialize(blob)
            self.assertIsInstance(revived, cls)
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
        ):
            with self.assertRaisesRegex(ValueError, f"{name}="):
                kdl.optimizers.RowSparseAdam(**kwargs)
        for momentum in (1.5, -0.1, True, "0.9"):
            with self.assertRaisesRegex(ValueError, "momentum="):
                kdl.optimizers.RowSparseSGD(momentum=momentum)
        with self.assertRaisesRegex(ValueError, "nesterov="):
            kdl.optimizers.RowSparseSGD(momentum=0.9, nesterov="yes")
        with self.assertRaisesRegex(ValueError, "amsgrad="):
            kdl.optimizers.RowSparseAdam(amsgrad="no")
