"""kdl.models.GLO: sparse training, saving/resume, distribution, API.

Training runs on TensorFlow (`tf.IndexedSlices` row updates) and on JAX (a
jitted stateless step that differentiates the gathered rows and scatters
them back with `RowSparseOptimizer.apply_rows`); the tests of training run
on both unless marked. O(batch) on JAX is measured by
benchmarks/latent_table_scaling.py, not timed here.
"""

import os
import unittest

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import kdl
from kdl.models.glo import GLO
from kdl.models.glo import build_dcgan_generator
from kdl.models.glo import pca_codes
from tests.optimizers.row_sparse_testing import RecordingBall
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy

N, D = 48, 6


def mlp_generator(latent_dim=D):
    """A small generator without batch norm (exact across replicas)."""
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(8 * 8, activation="sigmoid"),
            keras.layers.Reshape((8, 8, 1)),
        ]
    )


def images(n=N, seed=0):
    """8x8 images on a 3-d manifold: sigmoid of random projections."""
    rng = np.random.RandomState(seed)
    hidden = rng.normal(size=(n, 3))
    weights = np.random.RandomState(99).normal(size=(3, 64)) * 1.5
    x = 1.0 / (1.0 + np.exp(-hidden @ weights))
    return x.reshape(n, 8, 8).astype("float32")


def make_glo(projection="ball", loss="mse", code_lr=0.05):
    model = GLO(mlp_generator(), N, D, projection=projection)
    model.compile(
        optimizer=keras.optimizers.Adam(5e-3),
        code_optimizer=kdl.optimizers.RowSparseAdam(code_lr),
        loss=loss,
    )
    return model


def linear_glo(code_optimizer, generator_optimizer=None, projection="ball"):
    """GLO with a linear generator (codes @ W + b): NumPy gradients."""
    generator = keras.Sequential(
        [
            keras.Input(shape=(D,)),
            keras.layers.Dense(64),
            keras.layers.Reshape((8, 8, 1)),
        ]
    )
    model = GLO(generator, N, D, projection=projection)
    model.compile(
        optimizer=generator_optimizer or keras.optimizers.SGD(0.0),
        code_optimizer=code_optimizer,
        loss="mse",
    )
    return model


def np_glo_adam(model, batches, targets, lr_at, b1=0.9, b2=0.999):
    """Row-sparse Adam on the codes of `linear_glo` (generator fixed).

    `lr_at(t)`: the learning rate of step t (0-based). Returns the codes
    and the two moments after the steps.
    """
    w, b = [np.asarray(v, "float64") for v in model.generator.get_weights()]
    codes = model.codes.astype("float64")
    m, v = np.zeros_like(codes), np.zeros_like(codes)
    for t, (idx, y) in enumerate(zip(batches, targets)):
        y = y.reshape(len(idx), -1)
        pred = codes[idx] @ w + b
        # d/dz of mean((pred - y)^2) over the batch and the 64 pixels.
        dz = 2.0 * (pred - y) / pred.size @ w.T
        grads = {}
        for row, g in zip(idx, dz):
            grads[row] = grads.get(row, 0.0) + g
        alpha = lr_at(t) * np.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1))
        for row, g in grads.items():
            m[row] = b1 * m[row] + (1 - b1) * g
            v[row] = b2 * v[row] + (1 - b2) * g**2
            codes[row] -= alpha * m[row] / (np.sqrt(v[row]) + 1e-7)
            codes[row] /= max(np.linalg.norm(codes[row]), 1.0)
    return codes, m, v


def training_state(model):
    """Copies of the codes, the generator and both optimizers' variables."""
    return {
        "codes": model.codes.copy(),
        "generator": model.generator.get_weights(),
        "optimizer": [
            ops.convert_to_numpy(v) for v in model.optimizer.variables
        ],
        "code_optimizer": [
            ops.convert_to_numpy(v) for v in model.code_optimizer.variables
        ],
    }


def code_slots(model):
    """The code optimizer's (N, D) slots, by name."""
    return {
        v.name: ops.convert_to_numpy(v)
        for v in model.code_optimizer.variables
        if tuple(v.shape) == (N, D)
    }


class GLOTest(TestCase):
    def test_fit_updates_only_batch_rows_and_projects(self):
        for projection in ("ball", "sphere"):
            model = make_glo(projection)
            start = model.codes.copy()
            seen = np.arange(0, N, 3)
            history = model.fit(
                seen, images()[seen], batch_size=4, epochs=2, verbose=0
            )
            self.assertEqual(set(history.history), {"loss", "mse"})
            changed = np.where((model.codes != start).any(axis=1))[0]
            self.assertEqual(changed.tolist(), seen.tolist())
            # The moments of rows never in a batch stay exactly 0.
            unseen = np.setdiff1d(np.arange(N), seen)
            for values in code_slots(model).values():
                self.assertTrue(np.all(values[unseen] == 0.0))
            norms = np.linalg.norm(model.codes, axis=1)
            self.assertLessEqual(norms.max(), 1.0 + 1e-6)
            if projection == "sphere":
                self.assertAllClose(norms, np.ones(N), atol=1e-6)
            # The generator optimizer holds no table-sized slots.
            shapes = [tuple(v.shape) for v in model.optimizer.variables]
            self.assertNotIn((N, D), shapes)

    def test_steps_match_numpy_row_sparse_adam_with_duplicates(self):
        # Duplicate indices in every batch; a learning-rate schedule; the
        # generator fixed (SGD(0)) so the codes' steps have a closed form.
        schedule = keras.optimizers.schedules.ExponentialDecay(
            0.05, decay_steps=1, decay_rate=0.5
        )
        model = linear_glo(kdl.optimizers.RowSparseAdam(schedule))
        idx = np.array([3, 7, 3, 10, 7, 3, 20, 21, 5, 5, 5, 5, 3, 9, 40, 9])
        x = images()[idx]
        start = model.codes.copy()
        want = np_glo_adam(
            model,
            [idx[:8], idx[8:]],
            [x[:8], x[8:]],
            lambda t: 0.05 * 0.5**t,
        )
        model.fit(idx, x, batch_size=8, shuffle=False, verbose=0)
        self.assertEqual(int(model.code_optimizer.iterations), 2)
        want_codes, want_m, want_v = want
        self.assertAllClose(model.codes, want_codes, atol=1e-6, rtol=1e-5)
        slots = code_slots(model)
        m = next(v for k, v in slots.items() if k.endswith("momentum"))
        v = next(v for k, v in slots.items() if k.endswith("velocity"))
        self.assertAllClose(m, want_m, atol=1e-7, rtol=1e-4)
        self.assertAllClose(v, want_v, atol=1e-9, rtol=1e-4)
        # Rows not in a batch: bitwise unchanged, moments exactly 0.
        unseen = np.setdiff1d(np.arange(N), idx)
        self.assertTrue(np.array_equal(model.codes[unseen], start[unseen]))
        self.assertTrue(np.all(m[unseen] == 0.0) and np.all(v[unseen] == 0))
        norms = np.linalg.norm(model.codes, axis=1)
        self.assertLessEqual(norms.max(), 1.0 + 1e-6)

    def test_step_never_projects_the_whole_table(self):
        # O(batch): the constraint only ever sees the batch rows.
        model = GLO(mlp_generator(), N, D)
        constraint = RecordingBall()
        model.latent_table.embeddings.constraint = constraint
        model.compile(code_optimizer=kdl.optimizers.RowSparseSGD(0.1))
        model.fit(np.arange(8), images(8), batch_size=4, verbose=0)
        self.assertTrue(constraint.shapes)
        self.assertNotIn((N, D), constraint.shapes)

    def test_training_reduces_reconstruction_error(self):
        model = make_glo(loss=kdl.losses.LaplacianPyramidLoss(levels=2))
        x = images()
        before = np.mean((model.reconstruct(np.arange(N)) - x[..., None]) ** 2)
        model.fit(np.arange(N), x, batch_size=8, epochs=20, verbose=0)
        after = np.mean((model.reconstruct(np.arange(N)) - x[..., None]) ** 2)
        self.assertLess(after, 0.8 * before)

    def test_mixed_float16_keeps_float32_codes_and_sparse_updates(self):
        keras.config.set_dtype_policy("mixed_float16")
        model = make_glo(loss=kdl.losses.LaplacianPyramidLoss(levels=1))
        self.assertIsInstance(
            model.optimizer, keras.optimizers.LossScaleOptimizer
        )
        self.assertEqual(model.latent_table.embeddings.dtype, "float32")
        start = model.codes.copy()
        seen = np.arange(0, N, 2)
        history = model.fit(seen, images()[seen], batch_size=8, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        changed = np.where((model.codes != start).any(axis=1))[0]
        self.assertEqual(changed.tolist(), seen.tolist())

    def test_mixed_float16_code_gradients_are_unscaled_by_the_step_scale(
        self,
    ):
        # RowSparseSGD is linear in the gradient (Adam is nearly
        # scale-invariant, see the test above): the codes after a few
        # mixed_float16 steps are as close to float32's as float16 allows
        # only if the codes' gradients are divided by the loss scale once,
        # and by the scale their loss was scaled with. The second
        # LossScaleOptimizer doubles its scale after every step: read after
        # the generator's update, it would halve every code step.
        rng = np.random.RandomState(0)
        start = rng.normal(size=(N, D)).astype("float32")
        kernel = rng.normal(scale=0.3, size=(D, 64)).astype("float32")
        x = images(16)
        steps = 4

        def fit(policy, generator_optimizer):
            keras.config.set_dtype_policy(policy)
            model = linear_glo(
                kdl.optimizers.RowSparseSGD(5.0),
                generator_optimizer,
                projection=None,
            )
            keras.config.set_dtype_policy("float32")
            model.generator.set_weights([kernel, np.zeros(64, "float32")])
            model.set_codes(start)
            model.fit(
                np.arange(16),
                x,
                batch_size=8,
                epochs=steps // 2,
                shuffle=False,
                verbose=0,
            )
            return model

        want = fit("float32", keras.optimizers.SGD(0.0)).codes
        moved = np.abs(want - start).max()
        self.assertGreater(moved, 0.05)
        # The generator is fixed (SGD(0)): the first run keeps the default
        # scale 2**15, the second doubles 2**10 after each of its steps.
        runs = {
            "fixed scale": (keras.optimizers.SGD(0.0), 2.0**15),
            "doubling scale": (
                keras.optimizers.LossScaleOptimizer(
                    keras.optimizers.SGD(0.0),
                    initial_scale=2.0**10,
                    dynamic_growth_steps=1,
                ),
                2.0 ** (10 + steps),
            ),
        }
        for name, (generator_optimizer, final_scale) in runs.items():
            model = fit("mixed_float16", generator_optimizer)
            self.assertEqual(model.generator.compute_dtype, "float16")
            self.assertIsInstance(
                model.optimizer, keras.optimizers.LossScaleOptimizer
            )
            error = np.abs(model.codes - want).max()
            self.assertLess(error, 0.02 * moved, msg=name)
            # No overflow skipped a step: the scale is the expected one.
            scale = ops.convert_to_numpy(model.optimizer.scale_loss(1.0))
            self.assertEqual(float(scale), final_scale, msg=name)

    def test_mixed_float16_overflow_skips_the_whole_step(self):
        # keras.optimizers.LossScaleOptimizer skips a step whose scaled
        # gradients overflowed and halves its scale. GLO makes one such
        # decision for both optimizers, on every gradient of the step: no
        # weight, code, moment or step count moves. A finite step first,
        # on the same rows, so that their moments are not zero (Adam would
        # otherwise move them by its momentum on zeroed gradients). Also
        # with a frozen generator (its LossScaleOptimizer sees no gradient:
        # only the codes' can overflow, and the scale must still halve),
        # and on TensorFlow on two replicas, which must agree.
        idx = np.arange(8)
        x = images(8)
        cases = [(tf.distribute.get_strategy(), False), (None, True)]
        if backend() == "tensorflow":
            cases.append((two_replica_strategy(), False))
        for strategy, frozen in cases:
            keras.config.set_dtype_policy("mixed_float16")
            with (strategy or tf.distribute.get_strategy()).scope():
                model = make_glo(projection=None)
                model.generator.trainable = not frozen
                model.compile(
                    optimizer=keras.optimizers.Adam(5e-3),
                    code_optimizer=kdl.optimizers.RowSparseAdam(0.05),
                    loss="mse",
                )
            keras.config.set_dtype_policy("float32")
            optimizer = model.optimizer
            model.fit(idx, x, batch_size=8, epochs=1, verbose=0)
            case = f"{strategy}, frozen={frozen}"

            def state():
                variables = (
                    model.code_optimizer.variables
                    + optimizer.inner_optimizer.variables
                    + model.generator.weights
                )
                return [model.codes.copy()] + [np.array(v) for v in variables]

            def steps(optimizer):  # (a mirrored variable has no int())
                return int(np.array(optimizer.iterations))

            before = state()
            self.assertEqual(steps(model.code_optimizer), 1, case)
            # (Keras's optimizers count no step without a variable.)
            trained = 0 if frozen else 1
            self.assertEqual(steps(optimizer.inner_optimizer), trained, case)
            optimizer.dynamic_scale.assign(2.0**60)
            model.fit(idx, x, batch_size=8, epochs=1, verbose=0)
            scale = float(np.array(optimizer.dynamic_scale))
            self.assertEqual(scale, 2.0**59, case)
            self.assertEqual(int(np.array(optimizer.step_counter)), 0, case)
            for b, a in zip(before, state()):
                self.assertTrue(np.array_equal(a, b), msg=case)
            # A finite step (a scale float16 holds) moves them again.
            optimizer.dynamic_scale.assign(2.0**10)
            model.fit(idx, x, batch_size=8, epochs=1, verbose=0)
            self.assertEqual(steps(model.code_optimizer), 2, case)
            self.assertEqual(
                steps(optimizer.inner_optimizer), 2 * trained, case
            )
            moved = (model.codes != before[0]).any(axis=1)
            self.assertEqual(np.where(moved)[0].tolist(), idx.tolist())

    def test_validation_evaluate_predict_keep_the_code_optimizer_state(self):
        # Validation, `evaluate`, `test_on_batch`, `reset_metrics` and
        # `predict` leave the code optimizer's step count and slots (and the
        # codes) as they are, so one more epoch continues the run exactly
        # as an uninterrupted fit. On JAX those variables ride through every
        # step in `metrics_variables`: the test steps must pass them on,
        # `reset_metrics` must not reset them. The codes' learning rate
        # decays with the code optimizer's `iterations`.
        idx = np.array([3, 7, 3, 10, 7, 3, 20, 21, 5, 5, 5, 5])
        idx = np.concatenate([idx, [3, 9, 23, 9, 0, 1, 2, 2, 11, 12, 13, 3]])
        x = images()[idx]
        steps = len(idx) // 8

        def make():
            schedule = keras.optimizers.schedules.ExponentialDecay(
                0.05, decay_steps=2, decay_rate=0.7
            )
            return linear_glo(
                kdl.optimizers.RowSparseAdam(schedule),
                keras.optimizers.Adam(1e-2),
            )

        class Iterations(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seen = []

            def on_epoch_end(self, epoch, logs=None):
                # After the epoch's validation (`val_` logs).
                count = int(self.model.code_optimizer.iterations)
                self.seen.append((count, "val_mse" in logs))

        model, reference = make(), make()
        reference.set_weights(model.get_weights())
        iterations = Iterations()
        model.fit(
            idx,
            x,
            batch_size=8,
            epochs=2,
            shuffle=False,
            validation_data=(idx[:8], x[:8]),
            callbacks=[iterations],
            verbose=0,
        )
        self.assertEqual(iterations.seen, [(steps, True), (2 * steps, True)])
        after_fit = training_state(model)
        model.evaluate(idx, x, batch_size=8, verbose=0)
        model.test_on_batch(idx[:8], x[:8])
        model.reset_metrics()
        model.predict(idx, batch_size=8, verbose=0)
        self.assertEqual(int(model.code_optimizer.iterations), 2 * steps)
        keras.tree.map_structure(
            self.assertAllEqual, training_state(model), after_fit
        )
        model.fit(idx, x, batch_size=8, shuffle=False, verbose=0)
        reference.fit(idx, x, batch_size=8, epochs=3, shuffle=False, verbose=0)
        self.assertEqual(int(model.code_optimizer.iterations), 3 * steps)
        keras.tree.map_structure(
            self.assertAllEqual,
            training_state(model),
            training_state(reference),
        )

    def test_dataset_of_index_image_pairs(self):
        model = make_glo()
        ds = tf.data.Dataset.from_tensor_slices(
            (np.arange(N), images()[..., None])
        ).batch(16)
        model.fit(ds, epochs=1, verbose=0)
        logs = model.evaluate(ds, verbose=0, return_dict=True)
        self.assertTrue(np.isfinite(logs["mse"]))

    def test_save_load_keeps_codes_and_resumes(self):
        model = make_glo(loss=kdl.losses.LaplacianPyramidLoss(levels=1))
        x = images()
        model.fit(np.arange(N), x, batch_size=8, epochs=1, verbose=0)
        path = os.path.join(self.get_temp_dir(), "glo.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, GLO)
        self.assertTrue(np.array_equal(loaded.codes, model.codes))
        self.assertIsInstance(loaded.loss, kdl.losses.LaplacianPyramidLoss)
        self.assertIsInstance(
            loaded.code_optimizer, kdl.optimizers.RowSparseAdam
        )
        for a, b in zip(
            model.code_optimizer.variables, loaded.code_optimizer.variables
        ):
            self.assertTrue(np.array_equal(np.asarray(a), np.asarray(b)))
        self.assertAllClose(
            loaded.reconstruct([0, 5]), model.reconstruct([0, 5]), atol=1e-6
        )
        self.assertEqual(
            int(loaded.code_optimizer.iterations),
            int(model.code_optimizer.iterations),
        )
        # Continuing both (2 steps) gives the same codes, code moments and
        # generator: the run resumes exactly.
        for m in (model, loaded):
            m.fit(np.arange(16), x[:16], batch_size=8, shuffle=False, verbose=0)
        self.assertAllClose(loaded.codes, model.codes, atol=1e-6)
        for a, b in zip(
            model.code_optimizer.variables, loaded.code_optimizer.variables
        ):
            self.assertAllClose(a, b, atol=1e-6)
        self.assertAllClose(
            loaded.generator.get_weights(),
            model.generator.get_weights(),
            atol=1e-6,
        )

    def test_backup_and_restore_resumes_with_the_same_codes(self):
        x = images()
        backup = os.path.join(self.get_temp_dir(), "backup")

        class Kill(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch == 0:
                    raise RuntimeError("killed")

        def fit(seed, callbacks, epochs=2):
            keras.utils.set_random_seed(seed)
            model = make_glo()
            model.fit(
                np.arange(N),
                x,
                batch_size=8,
                epochs=epochs,
                shuffle=False,
                callbacks=callbacks,
                verbose=0,
            )
            return model

        reference = fit(5, [])
        with self.assertRaisesRegex(RuntimeError, "killed"):
            fit(5, [keras.callbacks.BackupAndRestore(backup), Kill()])
        # A fresh model with other initial codes resumes from the backup.
        resumed = fit(6, [keras.callbacks.BackupAndRestore(backup)])
        self.assertAllClose(resumed.codes, reference.codes, atol=1e-6)
        self.assertAllClose(
            resumed.generator.get_weights(),
            reference.generator.get_weights(),
            atol=1e-6,
        )

    @skip_unless_tensorflow("tf.distribute")
    def test_two_replicas_update_the_same_rows_as_one(self):
        idx = np.array([1, 4, 4, 9, 30, 31, 2, 0, 7, 7, 40, 41, 3, 5, 6, 8])
        x = images()[idx]

        def fit(strategy):
            keras.utils.set_random_seed(3)
            with strategy.scope():
                model = make_glo()
            start = model.codes.copy()
            model.fit(idx, x, batch_size=8, epochs=2, shuffle=False, verbose=0)
            return model, start

        one, start_one = fit(tf.distribute.get_strategy())
        two, start_two = fit(two_replica_strategy())
        self.assertTrue(np.array_equal(start_one, start_two))
        changed_one = (one.codes != start_one).any(axis=1)
        changed_two = (two.codes != start_two).any(axis=1)
        self.assertEqual(changed_one.tolist(), changed_two.tolist())
        self.assertEqual(
            np.where(changed_two)[0].tolist(), sorted(set(idx.tolist()))
        )
        self.assertAllClose(two.codes, one.codes, atol=1e-5)
        self.assertAllClose(
            two.generator.get_weights(), one.generator.get_weights(), atol=1e-5
        )
        copies = two.latent_table.embeddings.value.values
        self.assertTrue(np.array_equal(copies[0].numpy(), copies[1].numpy()))

    @skip_unless_tensorflow("encode: kdl.models.search_codes")
    def test_encode_sample_interpolate(self):
        model = make_glo()
        x = images()
        model.fit(np.arange(N), x, batch_size=8, epochs=3, verbose=0)
        targets = model.decode(model.codes[:10])
        codes = model.encode(targets, steps=60, batch_size=4)
        self.assertEqual(codes.shape, (10, D))
        self.assertLessEqual(np.linalg.norm(codes, axis=1).max(), 1 + 1e-6)
        start_err = np.mean(
            (model.decode(np.tile(model.codes.mean(0), (10, 1))) - targets) ** 2
        )
        err = np.mean((model.decode(codes) - targets) ** 2)
        self.assertLess(err, 0.5 * start_err)
        # Sampling: the fitted Gaussian and reproducible draws.
        mean, cov = model.code_distribution()
        self.assertEqual(cov.shape, (D, D))
        self.assertAllClose(mean, model.codes.mean(0), atol=1e-6)
        self.assertAllClose(model.sample(5, seed=1), model.sample(5, seed=1))
        self.assertEqual(model.sample(5, seed=1).shape, (5, 8, 8, 1))
        path = model.interpolate(2, 9, steps=5)
        self.assertEqual(path.shape, (5, 8, 8, 1))
        self.assertAllClose(path[0], model.decode(model.codes[2:3])[0])
        self.assertAllClose(path[-1], model.decode(model.codes[9:10])[0])

    def test_pca_codes_and_dcgan_generator(self):
        x = np.random.RandomState(0).normal(size=(200, 10))
        x[:, 0] *= 5.0
        codes = pca_codes(x, 3)
        centred = x - x.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        want = centred @ vt[:3].T
        self.assertAllClose(np.abs(codes), np.abs(want), atol=1e-4)
        var = codes.var(axis=0)
        self.assertTrue(np.all(np.diff(var) <= 0))
        with self.assertRaisesRegex(ValueError, "latent_dim"):
            pca_codes(x, 11)
        generator = build_dcgan_generator(8, filters=4)
        self.assertEqual(generator.output_shape, (None, 28, 28, 1))
        with self.assertRaisesRegex(ValueError, "image_shape"):
            build_dcgan_generator(8, image_shape=(30, 30, 1))
        model = GLO(generator, 10, 8)
        model.set_codes(np.ones((10, 8)))
        self.assertAllClose(
            np.linalg.norm(model.codes, axis=1), np.ones(10), atol=1e-6
        )

    def test_errors(self):
        model = make_glo()
        with self.assertRaisesRegex(ValueError, "num_examples"):
            model.reconstruct([0, N])
        with self.assertRaisesRegex(ValueError, "num_examples"):
            model.interpolate(-1, 2)
        if backend() == "tensorflow":
            with self.assertRaises(tf.errors.InvalidArgumentError):
                model.fit(np.array([0, 1, N + 5, 2]), images(4), verbose=0)
            with self.assertRaisesRegex(ValueError, "jit_compile"):
                model.compile(jit_compile=True)
        else:
            import jax

            # A fresh model: Keras's JAX `fit` donated the state of the
            # step that failed.
            with self.assertRaisesRegex(
                jax.errors.JaxRuntimeError, "num_examples"
            ):
                make_glo().fit(np.array([0, 1, N + 5, 2]), images(4), verbose=0)
            # The JAX row update has no gradient clipping (and co.).
            with self.assertRaisesRegex(ValueError, "clipnorm=1.0"):
                model.compile(
                    code_optimizer=kdl.optimizers.RowSparseAdam(clipnorm=1.0)
                )
        with self.assertRaisesRegex(ValueError, "generator"):
            GLO("not a model", N, D)
        with self.assertRaisesRegex(ValueError, "num_examples"):
            GLO(mlp_generator(), 0, D)
        with self.assertRaisesRegex(ValueError, "code_optimizer"):
            model.compile(code_optimizer=keras.optimizers.Adam())
        with self.assertRaisesRegex(ValueError, "metrics"):
            model.compile(metrics=["mae"])
        if backend() == "tensorflow":
            with self.assertRaisesRegex(ValueError, "steps"):
                model.encode(images(2), steps=0)
            with self.assertRaisesRegex(ValueError, "init"):
                model.encode(images(2), init="zeros")
        with self.assertRaisesRegex(ValueError, "steps"):
            model.interpolate(0, 1, steps=1)
        with self.assertRaisesRegex(ValueError, "`n`"):
            model.sample(0)
        with self.assertRaisesRegex(ValueError, "images"):
            model.fit(np.arange(4), verbose=0)
        with self.assertRaisesRegex(ValueError, "indices.dtype=float"):
            model.fit(np.array([0.0, 1.5]), images(2), verbose=0)

    def test_untrained_model_on_any_backend(self):
        model = GLO(mlp_generator(), N, D)
        self.assertLessEqual(
            np.linalg.norm(model.codes, axis=1).max(), 1.0 + 1e-6
        )
        self.assertEqual(model(np.arange(3)).shape, (3, 8, 8, 1))
        self.assertEqual(model.reconstruct([0, 5]).shape, (2, 8, 8, 1))
        self.assertAllClose(model.sample(5, seed=1), model.sample(5, seed=1))
        path = model.interpolate(2, 9, steps=5)
        self.assertAllClose(path[0], model.decode(model.codes[2:3])[0])
        self.assertAllClose(path[-1], model.decode(model.codes[9:10])[0])
        path = os.path.join(self.get_temp_dir(), "glo.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(loaded.codes, model.codes)

    @unittest.skipIf(
        backend() == "tensorflow", "encode runs on TensorFlow (tested above)"
    )
    def test_encode_needs_tensorflow(self):
        model = GLO(mlp_generator(), N, D)
        with self.assertRaisesRegex(NotImplementedError, backend()):
            model.encode(images(2))

    def test_state_carries_the_code_optimizer(self):
        # On JAX the code optimizer's variables ride in the state Keras
        # passes the jitted step (through `metrics_variables`), so its
        # updates are kept: `iterations` counts the steps, and the
        # jitted step is compiled. On both backends `get_state_tree` and
        # `set_state_tree` carry them.
        model = make_glo()
        self.assertEqual(model.jit_compile, backend() == "jax")
        names = [v.name for v in model.metrics_variables]
        for variable in model.code_optimizer.variables:
            self.assertIn(variable.name, names)
        model.fit(np.arange(N), images(), batch_size=8, verbose=0)
        self.assertEqual(int(model.code_optimizer.iterations), N // 8)
        self.assertEqual(int(model.optimizer.iterations), N // 8)
        saved = model.get_state_tree("numpy_array")
        slots = [np.array(v) for v in model.code_optimizer.variables]
        model.train_on_batch(np.arange(4), images(4))
        self.assertEqual(int(model.code_optimizer.iterations), N // 8 + 1)
        model.set_state_tree(saved)
        for want, variable in zip(slots, model.code_optimizer.variables):
            self.assertTrue(np.array_equal(np.array(variable), want))
        model.train_on_batch(np.arange(4), images(4))
        self.assertEqual(int(model.code_optimizer.iterations), N // 8 + 1)
