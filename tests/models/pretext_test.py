"""kdl.models.pretext: splits, batches, models and scores of pretraining."""

import keras
import numpy as np

import kdl
from tests.test_case import TestCase


def _images(n, seed=0):
    rng = np.random.RandomState(seed)
    x = (rng.rand(n, 28, 28) * 255).astype("uint8")
    return x, rng.randint(0, 10, n)


def _data():
    return _images(40), _images(12, 1)


class PretextSplitsTest(TestCase):
    def test_first_images_and_random_subsets(self):
        sets = kdl.models.pretext_splits(_data(), 30, 10, 20, 10, seed=3)
        x, y = sets["train"]
        self.assertEqual(x.shape, (30, 28, 28, 1))
        self.assertEqual((x.dtype, y.dtype), ("float32", "int32"))
        self.assertAllClose(x, _data()[0][0][:30, ..., None] / 255.0)
        self.assertEqual(sets["test"][0].shape[0], 10)
        rng = np.random.RandomState(3)
        curve = rng.permutation(30)[:20]
        few = rng.permutation(30)[:10]
        self.assertAllEqual(sets["curve"][1], y[curve])
        self.assertAllEqual(sets["few"][1], y[few])
        for name in ("probe", "curve", "few"):
            self.assertLen(sets[name], 4)
            self.assertAllEqual(sets[name][3], sets["test"][1])
        all_of_them = kdl.models.pretext_splits(_data())
        self.assertEqual(len(all_of_them["train"][0]), 40)

    def test_errors(self):
        for name, value in (("train_size", 0), ("curve_examples", 2.5)):
            with self.assertRaisesRegex(ValueError, name):
                kdl.models.pretext_splits(_data(), **{name: value})


class PretextDatasetTest(TestCase):
    def test_batches_per_task(self):
        x, y = _images(8)
        nat = next(iter(kdl.models.pretext_dataset("nat", x, None, 4)))
        self.assertEqual(nat[0].dtype, "int32")
        self.assertEqual(tuple(nat[1].shape), (4, 28, 28, 1))
        ae = next(iter(kdl.models.pretext_dataset("autoencoder", x, y, 4)))
        self.assertAllClose(ae[0], ae[1])
        sup = next(
            iter(kdl.models.pretext_dataset("supervised", x, y, 4, False))
        )
        self.assertEqual(tuple(sup[1].shape), (4,))

    def test_errors(self):
        x, y = _images(4)
        with self.assertRaisesRegex(ValueError, "task"):
            kdl.models.pretext_dataset("rotation", x, y)
        with self.assertRaisesRegex(ValueError, "y=None"):
            kdl.models.pretext_dataset("supervised", x)


class BuildPretextModelTest(TestCase):
    def test_each_task_compiles_and_trains_the_backbone(self):
        x, y = _images(8)
        for task in kdl.models.PRETEXT_TASKS:
            backbone = kdl.models.small_convnet(width=2)
            model = kdl.models.build_pretext_model(
                task, backbone, num_examples=8, feature_dim=4, width=2, seed=0
            )
            self.assertIsInstance(model.optimizer, keras.optimizers.Adam)
            before = [w.copy() for w in backbone.get_weights()]
            ds = kdl.models.pretext_dataset(task, x, y, 4, augment=False)
            model.fit(ds, epochs=1, verbose=0)
            moved = [
                not np.allclose(a, b)
                for a, b in zip(before, backbone.get_weights())
            ]
            self.assertTrue(any(moved), task)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "task"):
            kdl.models.build_pretext_model("jigsaw", None)


class EvaluateBackboneTest(TestCase):
    def test_probe_and_fine_tune_accuracies(self):
        sets = kdl.models.pretext_splits(_data(), finetune_labels=10)
        backbone = kdl.models.small_convnet(width=2)
        scores = kdl.models.evaluate_backbone(
            backbone, sets["probe"], sets["few"], 1, 1
        )
        self.assertEqual(set(scores), {"probe", "probe_train", "finetune"})
        for value in scores.values():
            self.assertTrue(0.0 <= value <= 1.0)
