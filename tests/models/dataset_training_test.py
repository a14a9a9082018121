"""train_for_steps: the steps it runs, its curve, learning; errors."""

import os

import numpy as np
import tensorflow as tf

import kdl
from tests import test_case
from tests.test_case import TestCase


def _data(n, seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n).astype("int32")
    x = rng.randint(0, 40, (n, 4, 4)).astype("uint8")
    x[y == 1, :2] = 255  # class 1: a bright top half
    return x, y


class TrainForStepsTest(TestCase):
    def test_steps_curve_and_learning(self):
        train, test = _data(64, 0), _data(32, 1)
        ds = kdl.datasets.image_dataset(*train, 8, drop_remainder=True)
        model = kdl.models.build_normalized_mlp(
            "bn", (4, 4, 1), num_classes=2, hidden_units=[8]
        )
        directory = os.path.join(self.get_temp_dir(), "arm")
        result = kdl.models.train_for_steps(
            model,
            directory,
            ds,  # 8 batches: repeated for 30 steps
            test,
            steps=31,
            eval_every=10,
            learning_rate=1e-2,
            steps_per_execution=4,
            # XLA on JAX (one program instead of every op compiled on its
            # own); TensorFlow's graph mode compiles faster than its XLA.
            jit_compile=test_case.backend() == "jax",
            verbose=0,
        )
        self.assertEqual(result["steps"], [10, 20, 30])
        self.assertLen(result["val_accuracy"], 3)
        self.assertLen(result["train_loss"], 3)
        self.assertEqual(int(model.optimizer.iterations.numpy()), 30)
        self.assertGreater(result["test_accuracy"], 0.9)
        self.assertAlmostEqual(
            result["val_accuracy"][-1], result["test_accuracy"]
        )
        self.assertGreater(result["seconds_per_step"], 0)
        self.assertTrue(os.path.exists(os.path.join(directory, "history.csv")))

    def test_fewer_steps_than_eval_every_run_one_round(self):
        ds = kdl.datasets.image_dataset(*_data(16, 0), 4)
        model = kdl.models.build_normalized_mlp("none", (4, 4, 1), 2, [4])
        result = kdl.models.train_for_steps(
            model,
            os.path.join(self.get_temp_dir(), "one"),
            ds,
            _data(8, 1),
            steps=3,
            eval_every=5,
            verbose=0,
        )
        self.assertEqual(result["steps"], [5])
        self.assertGreater(result["seconds_per_step"], 0)  # the one round

    @test_case.skip_unless_tensorflow("tf.distribute")
    def test_two_replicas_and_class_grouped_batches(self):
        # Keras's multi-step loop fails under MirroredStrategy: one step
        # per execution there, still 6 steps in rounds of 3.
        strategy = test_case.two_replica_strategy()
        x, y = _data(48, 0)
        ds = kdl.datasets.class_grouped_batches(x, y, 8, 2, epochs=1)
        with strategy.scope():
            model = kdl.models.build_normalized_mlp("renorm", (4, 4, 1), 2, [4])
        result = kdl.models.train_for_steps(
            model,
            os.path.join(self.get_temp_dir(), "mirrored"),
            ds,
            _data(16, 1),
            steps=6,
            eval_every=3,
            steps_per_execution=3,
            strategy=strategy,
            jit_compile=False,
            verbose=0,
        )
        self.assertEqual(result["steps"], [3, 6])
        self.assertEqual(int(model.optimizer.iterations.numpy()), 6)
        self.assertTrue(np.isfinite(result["test_loss"]))

    def test_errors(self):
        model = kdl.models.build_normalized_mlp("none", (4, 4, 1), 2, [4])
        test = _data(8, 1)
        ds = tf.data.Dataset.from_tensors((np.zeros((1, 4, 4, 1)), [0]))
        for name, kwargs in (
            ("steps", dict(steps=0, eval_every=1)),
            ("eval_every", dict(steps=1, eval_every=0)),
            ("learning_rate", dict(steps=1, eval_every=1, learning_rate=0)),
            (
                "steps_per_execution",
                dict(steps=1, eval_every=1, steps_per_execution=0),
            ),
        ):
            with self.assertRaisesRegex(ValueError, name):
                kdl.models.train_for_steps(model, "unused", ds, test, **kwargs)
        with self.assertRaisesRegex(ValueError, "train"):
            kdl.models.train_for_steps(
                model, "unused", _data(8, 0), test, steps=1, eval_every=1
            )
