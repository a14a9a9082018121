"""train_step_curve and steps_to_reach: validation every few steps."""

import numpy as np

import kdl
from tests.test_case import TestCase


def _sequences(n, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    x = rng.normal(size=(n, 6, 1)).astype("float32")
    x[:, 0, 0] += 3 * (2 * y - 1)  # the class is in the first step
    return x, y


class StepCurveTest(TestCase):
    def test_steps_to_reach(self):
        steps = [10, 20, 30]
        self.assertEqual(
            kdl.models.steps_to_reach(steps, [0.1, 0.8, 1], 0.8), 20
        )
        self.assertIsNone(
            kdl.models.steps_to_reach(steps, [0.1, 0.2, 0.3], 0.8)
        )
        self.assertEqual(
            kdl.models.steps_to_reach(steps, [None, 0.9, 1], 0.5), 20
        )

    def test_validates_every_eval_every_steps(self):
        model = kdl.models.build_sequence_classifier(
            "lstm", steps=6, features=1, units=4, num_classes=2
        )
        result = kdl.models.train_step_curve(
            model,
            self.get_temp_dir(),
            _sequences(64),
            _sequences(32, 1),
            _sequences(32, 2),
            steps=25,
            eval_every=5,
            batch_size=8,
            learning_rate=0.05,
            verbose=0,
        )
        self.assertEqual(result["steps"], [5, 10, 15, 20, 25])
        self.assertLen(result["val_accuracy"], 5)
        self.assertLen(result["train_loss"], 5)
        self.assertGreater(result["test_accuracy"], 0.7)
        self.assertGreater(result["seconds_per_step"], 0)
        self.assertEqual(model.optimizer.clipnorm, 1.0)

    def test_errors(self):
        model = kdl.models.build_sequence_classifier(
            "lstm", steps=6, features=1, units=4, num_classes=2
        )
        data = _sequences(8)
        for name in ("steps", "eval_every", "batch_size"):
            kwargs = {**dict(steps=5, eval_every=5, batch_size=4), name: 0}
            with self.assertRaisesRegex(ValueError, name):
                kdl.models.train_step_curve(
                    model, self.get_temp_dir(), data, data, data, **kwargs
                )
