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
        sets = kdl.models.pretext_splits(_data(), 30, 10, 20, 8, seed=3)
        x, y = sets["train"]
        self.assertEqual(x.shape, (30, 28, 28, 1))
        self.assertEqual((x.dtype, y.dtype), ("float32", "int32"))
        self.assertAllClose(x, _data()[0][0][:30, ..., None] / 255.0)
        self.assertEqual(sets["test"][0].shape[0], 10)
        rng = np.random.RandomState(3)
        probe = rng.permutation(30)[:20]
        curve = rng.permutation(30)[:8]
        self.assertAllClose(sets["probe"][0], x[probe])
        self.assertAllEqual(sets["probe"][1], y[probe])
        self.assertAllEqual(sets["curve"][1], y[curve])
        self.assertLen(sets["curve"], 4)
        self.assertAllEqual(sets["curve"][3], sets["test"][1][:8])
        all_of_them = kdl.models.pretext_splits(_data())
        self.assertEqual(len(all_of_them["train"][0]), 40)
        self.assertEqual(len(all_of_them["probe"][0]), 40)

    def test_errors(self):
        for name, value in (
            ("train_size", 0),
            ("probe_examples", 0),
            ("curve_examples", 2.5),
        ):
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

    def test_nat_options_and_sgd(self):
        model = kdl.models.build_pretext_model(
            "nat",
            kdl.models.small_convnet(width=2),
            num_examples=8,
            feature_dim=4,
            reassign_every=3,
            learning_rate=0.05,
            optimizer="sgd",
        )
        self.assertEqual(model.reassign_every, 3)
        self.assertIsInstance(model.optimizer, keras.optimizers.SGD)
        self.assertAllClose(model.optimizer.momentum, 0.9)
        self.assertAllClose(model.optimizer.learning_rate, 0.05)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "task"):
            kdl.models.build_pretext_model("jigsaw", None)
        with self.assertRaisesRegex(ValueError, "optimizer"):
            kdl.models.build_pretext_model("nat", None, optimizer="lbfgs")
        with self.assertRaisesRegex(ValueError, "learning_rate"):
            kdl.models.build_pretext_model("nat", None, learning_rate=0)


class EvaluateBackboneTest(TestCase):
    def test_taps_of_small_convnet(self):
        backbone = kdl.models.small_convnet(width=2)
        taps = kdl.models.convnet_taps(backbone)
        self.assertEqual(list(taps), ["conv1", "conv2", "conv3", "features"])
        for name in ("conv1", "conv2", "conv3"):
            layer = backbone.get_layer(taps[name])
            self.assertIsInstance(layer, keras.layers.ReLU)
        self.assertIs(backbone.get_layer(taps["features"]), backbone.layers[-1])
        shapes = [
            backbone.get_layer(taps[f"conv{i}"]).output.shape[1:]
            for i in (1, 2, 3)
        ]
        self.assertEqual(
            [tuple(s) for s in shapes], [(28, 28, 2), (14, 14, 4), (7, 7, 8)]
        )

    def test_probes_per_layer(self):
        sets = kdl.models.pretext_splits(_data())
        backbone = kdl.models.small_convnet(width=2)
        scores = kdl.models.evaluate_backbone(
            backbone,
            sets["probe"],
            sets["test"],
            ["conv2", "features"],
            max_features=16,
            k=3,
            epochs=1,
        )
        self.assertEqual(list(scores), ["conv2", "features"])
        self.assertEqual(scores["conv2"]["dim"], 2 * 2 * 4)
        self.assertEqual(scores["features"]["dim"], 8)
        for layer in scores.values():
            for key in ("linear", "linear_train", "knn"):
                self.assertTrue(0.0 <= layer[key] <= 1.0)

    def test_errors(self):
        backbone = kdl.models.small_convnet(width=2)
        sets = kdl.models.pretext_splits(_data())
        for layers in (["conv4"], []):
            with self.assertRaisesRegex(ValueError, "layers"):
                kdl.models.evaluate_backbone(
                    backbone, sets["probe"], sets["test"], layers
                )


class ProbeSummaryTest(TestCase):
    def test_scores_by_layer_and_each_methods_best_layer(self):
        def run(conv1, features):
            return {
                "conv1": {"linear": conv1, "knn": conv1 / 2},
                "features": {"linear": features, "knn": features / 2},
            }

        results = {
            "nat": [run(0.8, 0.7), run(0.6, 0.74)],  # means 0.70 / 0.72
            "random": [run(0.9, 0.5)],
        }
        scores = kdl.models.probe_scores(results, "knn")
        self.assertEqual(
            scores,
            {
                "conv1": {"nat": [0.4, 0.3], "random": [0.45]},
                "features": {"nat": [0.35, 0.37], "random": [0.25]},
            },
        )
        best = kdl.models.best_layers(kdl.models.probe_scores(results))
        self.assertEqual(best["nat"][1], "features")
        self.assertAlmostEqual(best["nat"][0], 0.72)
        self.assertEqual(best["random"], (0.9, "conv1"))
        tie = kdl.models.best_layers({"a": {"m": [1.0]}, "b": {"m": [1.0]}})
        self.assertEqual(tie, {"m": (1.0, "a")})
