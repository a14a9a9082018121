"""Tests for kdl.models.NAT."""

import os

import keras
import numpy as np
import scipy.optimize
import tensorflow as tf
from keras import ops

from kdl.models import NAT
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy

# 64 examples: every batch of 16 has one shape (one compiled step on JAX).
N = 64
SHAPE = (8, 8, 1)


def backbone(width=8):
    return keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Conv2D(width, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )


def images(n=N, seed=0):
    return np.random.RandomState(seed).rand(n, *SHAPE).astype("float32")


def dataset(x, batch_size=16, seed=0):
    ds = tf.data.Dataset.from_tensor_slices(
        (np.arange(len(x), dtype="int32"), x)
    )
    return ds.shuffle(len(x), seed=seed).batch(batch_size)


def make(**kwargs):
    kwargs.setdefault("num_examples", N)
    kwargs.setdefault("feature_dim", 6)
    kwargs.setdefault("seed", 3)
    model = NAT(backbone(), **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    return model


def is_permutation(p, n=N):
    return np.array_equal(np.sort(np.asarray(p)), np.arange(n))


class Snapshot(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.begin = []
        self.end = []

    def on_epoch_begin(self, epoch, logs=None):
        self.begin.append(np.array(self.model.assignment.numpy()))

    def on_epoch_end(self, epoch, logs=None):
        self.end.append(np.array(self.model.assignment.numpy()))


class NATTest(TestCase):
    def test_weights_targets_and_outputs(self):
        model = make()
        self.assertTrue(model.built)
        targets = model.targets.numpy()
        self.assertEqual(targets.shape, (N, 6))
        self.assertAllClose(np.linalg.norm(targets, axis=1), 1.0, atol=1e-5)
        # Uniform on the sphere: mean direction near zero.
        self.assertLess(np.linalg.norm(targets.mean(0)), 0.5)
        self.assertAllEqual(model.assignment, np.arange(N))
        self.assertEqual(model.assignment.dtype, "int32")
        names = sorted(w.name for w in model.non_trainable_weights)
        self.assertIn("assignment", names)
        self.assertIn("targets", names)
        self.assertEqual(len(model.trainable_weights), 4)
        out = model(images(5))
        self.assertEqual(tuple(out.shape), (5, 6))
        self.assertAllClose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
        # Same seed, same targets.
        self.assertAllClose(make().targets, targets)

    def test_reassign_is_optimal_for_the_batch(self):
        model = make()
        x = images()
        index = np.array([5, 17, 2, 40, 33, 8, 59, 0], dtype="int32")
        features = ops.cast(model(x[index]), "float32")
        new = ops.convert_to_numpy(model.reassign(index, features))
        current = model.assignment.numpy()[index]
        self.assertEqual(sorted(new), sorted(current))  # same targets
        c = model.targets.numpy()
        f = ops.convert_to_numpy(features)
        scores = f @ c[current].T
        r, cols = scipy.optimize.linear_sum_assignment(scores, maximize=True)
        best = scores[r, cols].sum()
        self.assertAlmostEqual(float(np.sum(f * c[new])), float(best), places=4)

    def test_fit_keeps_a_permutation_and_loss_decreases(self):
        model = make()
        x = images()
        snap = Snapshot()
        history = model.fit(
            dataset(x, batch_size=16), epochs=8, callbacks=[snap], verbose=0
        )
        for p in snap.end:  # after every epoch: no duplicated/lost target
            self.assertTrue(is_permutation(p))
        self.assertFalse(np.array_equal(snap.end[0], np.arange(N)))
        losses = history.history["loss"]
        self.assertLess(losses[-1], losses[0] - 0.05)
        self.assertGreater(history.history["reassigned"][0], 0.3)
        self.assertEqual(int(model.epoch.numpy()), 7)
        # The reported loss is the NAT loss of the assignment.
        metrics = model.evaluate(dataset(x), return_dict=True, verbose=0)
        f = model.predict(x, verbose=0)
        c = model.targets.numpy()[model.assignment.numpy()]
        self.assertAlmostEqual(
            metrics["loss"], 0.5 * np.mean(np.sum((f - c) ** 2, 1)), places=4
        )

    def test_jit_compile(self):
        # The training step is XLA-compiled on JAX (the host assignment is
        # a jax.pure_callback); TensorFlow runs it without XLA.
        model = make()
        self.assertEqual(model.jit_compile, backend() == "jax")
        model = NAT(backbone(), num_examples=N, feature_dim=6, seed=3)
        if backend() == "jax":
            model.compile(optimizer="adam", jit_compile=True)
            model.fit(dataset(images()), epochs=1, verbose=0)
            self.assertTrue(model.jit_compile)
            self.assertTrue(is_permutation(model.assignment.numpy()))

    def test_reassign_every(self):
        model = make(reassign_every=2)
        snap = Snapshot()
        history = model.fit(
            dataset(images()), epochs=4, callbacks=[snap], verbose=0
        )
        reassigned = history.history["reassigned"]
        self.assertGreater(reassigned[0], 0)
        self.assertEqual(reassigned[1], 0)
        self.assertGreater(reassigned[2], 0)
        self.assertEqual(reassigned[3], 0)
        self.assertAllEqual(snap.begin[1], snap.end[1])
        self.assertTrue(is_permutation(snap.end[-1]))

        fixed = make(reassign_every=0)
        history = fixed.fit(dataset(images()), epochs=2, verbose=0)
        self.assertAllEqual(fixed.assignment, np.arange(N))
        self.assertEqual(history.history["reassigned"], [0.0, 0.0])

    def test_save_load_and_config(self):
        model = make(reassign_every=3, projection=True)
        model.fit(dataset(images()), epochs=1, verbose=0)
        config = model.get_config()
        for key in ("num_examples", "feature_dim", "reassign_every", "seed"):
            self.assertIn(key, config)
        revived = NAT.from_config(config)
        self.assertEqual(revived.get_config(), config)
        path = os.path.join(self.get_temp_dir(), "nat.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, NAT)
        self.assertAllEqual(loaded.assignment, model.assignment)
        self.assertAllClose(loaded.targets, model.targets)
        x = images(4)
        self.assertAllClose(loaded(x), model(x), atol=1e-6)
        self.assertEqual(loaded.reassign_every, 3)
        # The loaded model is compiled and keeps training.
        loaded.fit(dataset(images()), epochs=1, verbose=0)
        self.assertTrue(is_permutation(loaded.assignment.numpy()))

    def test_checkpoint_resume_restores_assignment(self):
        backup = os.path.join(self.get_temp_dir(), "backup")

        class Interrupt(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 2:
                    raise RuntimeError("interrupted")

        model = make()
        snap = Snapshot()
        with self.assertRaisesRegex(RuntimeError, "interrupted"):
            model.fit(
                dataset(images()),
                epochs=4,
                callbacks=[
                    keras.callbacks.BackupAndRestore(backup),
                    snap,
                    Interrupt(),
                ],
                verbose=0,
            )
        saved = snap.end[1]
        self.assertFalse(np.array_equal(saved, np.arange(N)))
        targets = model.targets.numpy()

        resumed = make(seed=99)  # other targets, identity assignment
        snap2 = Snapshot()
        history = resumed.fit(
            dataset(images()),
            epochs=4,
            callbacks=[keras.callbacks.BackupAndRestore(backup), snap2],
            verbose=0,
        )
        self.assertEqual(len(history.history["loss"]), 2)  # epochs 2 and 3
        self.assertAllEqual(snap2.begin[0], saved)
        self.assertAllClose(resumed.targets, targets)
        self.assertTrue(is_permutation(resumed.assignment.numpy()))

    @skip_unless_tensorflow("tf.distribute.MirroredStrategy")
    def test_mirrored_strategy(self):
        strategy = two_replica_strategy()
        # 63 examples, batch 20: the last global batch of 3 splits 2 / 1, so
        # the replicas all-gather updates of unequal sizes.
        x = images(63)
        with strategy.scope():
            model = make(num_examples=63)
        history = model.fit(dataset(x, batch_size=20), epochs=3, verbose=0)
        self.assertTrue(np.all(np.isfinite(history.history["loss"])))
        self.assertGreater(history.history["reassigned"][0], 0.3)
        replicas = strategy.experimental_local_results(model.assignment.value)
        self.assertLen(replicas, 2)
        for p in replicas:
            self.assertTrue(is_permutation(p.numpy(), 63))
            self.assertAllEqual(p, replicas[0])
        self.assertFalse(np.array_equal(replicas[0].numpy(), np.arange(63)))

    def test_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_float16")
        model = make()
        self.assertEqual(model.targets.dtype, "float32")
        out = model(images(3))
        self.assertEqual(keras.backend.standardize_dtype(out.dtype), "float16")
        history = model.fit(dataset(images()), epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        self.assertTrue(is_permutation(model.assignment.numpy()))

    def test_unbuilt_backbone_and_projection_false(self):
        layer = keras.Sequential(
            [keras.layers.Flatten(), keras.layers.Dense(6)]
        )
        model = NAT(layer, num_examples=N, feature_dim=6, projection=False)
        self.assertFalse(model.built)
        model.build((None, *SHAPE))
        model.compile(optimizer="adam")
        model.fit(dataset(images()), epochs=1, verbose=0)
        self.assertEqual(len(model.trainable_weights), 2)
        with self.assertRaisesRegex(ValueError, "feature_dim"):
            NAT(backbone(), num_examples=N, feature_dim=5, projection=False)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "num_examples"):
            NAT(backbone(), num_examples=0)
        with self.assertRaisesRegex(ValueError, "feature_dim"):
            NAT(backbone(), num_examples=3, feature_dim=0)
        with self.assertRaisesRegex(ValueError, "reassign_every"):
            NAT(backbone(), num_examples=3, reassign_every=-1)
        with self.assertRaisesRegex(ValueError, "backbone"):
            NAT("resnet", num_examples=3)
        model = NAT(backbone(), num_examples=N)
        if backend() == "tensorflow":  # tf.numpy_function: no XLA
            with self.assertRaisesRegex(ValueError, "jit_compile"):
                model.compile(jit_compile=True)
        with self.assertRaisesRegex(ValueError, "loss"):
            model.compile(loss="mse")
        model.compile(optimizer="sgd")
        with self.assertRaisesRegex(ValueError, "index"):
            model.fit(
                tf.data.Dataset.from_tensor_slices((images(), images())).batch(
                    8
                ),
                verbose=0,
            )
        with self.assertRaisesRegex(ValueError, "image shape"):
            unbuilt = NAT(keras.layers.Flatten(), num_examples=N)
            unbuilt.build((None,))

    def test_train_on_batch_and_checked_indices(self):
        # Keras's `train_on_batch` hands the step (x, y, None).
        model = make()
        before = np.array(model.assignment)
        model.train_on_batch(np.arange(8), images(8))
        self.assertTrue(is_permutation(model.assignment))
        self.assertFalse(np.array_equal(np.array(model.assignment), before))
        model.test_on_batch(np.arange(8), images(8))
        with self.assertRaisesRegex(ValueError, "sample_weight"):
            model.train_on_batch(np.arange(8), images(8), np.ones(8))
        # A repeated index would use one target twice and lose another; an
        # index outside the table would read a clamped row (JAX). Each
        # fails the step (compiled: the backend's runtime error carries
        # the message). A fresh model each: JAX donated the failed step's
        # state.
        for index, message in (
            ([0, 0, 1, 2], "unique within a batch"),
            ([0, 1, 2, N], "num_examples"),
        ):
            with self.assertRaisesRegex(Exception, message):
                make().train_on_batch(np.array(index), images(4))
