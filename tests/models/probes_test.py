"""kdl.models.probes: linear and k-NN probes, layer taps, fine-tuning."""

import keras
import numpy as np

import kdl
from tests.test_case import TestCase


def separable(n=300, dim=5, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, size=n).astype("int32")
    centers = np.eye(3, dim) * 5
    x = (centers[y] + rng.normal(size=(n, dim)) * 0.3).astype("float32")
    return x, y


def identity(dim=5):
    return keras.Sequential([keras.Input((dim,)), keras.layers.Identity()])


def knn_reference(train, y_train, queries, k, center):
    """k-NN written out example by example: cosine similarities, the k
    largest (a full sort), one vote each, ties to the larger summed
    similarity."""
    train = np.asarray(train, "float64")
    mean = train.mean(0) if center else np.zeros(train.shape[1])
    out = []
    for q in np.asarray(queries, "float64"):
        sims = []
        for t in train:
            a, b = q - mean, t - mean
            sims.append(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        order = sorted(range(len(train)), key=lambda i: -sims[i])[:k]
        votes, summed = {}, {}
        for i in order:
            votes[y_train[i]] = votes.get(y_train[i], 0) + 1
            summed[y_train[i]] = summed.get(y_train[i], 0.0) + sims[i]
        out.append(max(votes, key=lambda c: (votes[c], summed[c])))
    return np.array(out)


class LinearProbeTest(TestCase):
    def test_separable_features_are_probed_perfectly(self):
        x, y = separable()
        scores = kdl.models.linear_probe(
            identity(),
            x[:200],
            y[:200],
            x[200:],
            y[200:],
            epochs=20,
            batch_size=40,  # whole batches: one compiled step on JAX
        )
        self.assertEqual(set(scores), {"train_accuracy", "test_accuracy"})
        self.assertGreater(scores["test_accuracy"], 0.95)
        self.assertGreater(scores["train_accuracy"], 0.95)

    def test_random_labels_cannot_be_probed(self):
        x, _ = separable()
        rng = np.random.RandomState(1)
        scores = kdl.models.linear_probe(
            identity(),
            x[:200],
            rng.randint(0, 3, 200),
            x[200:],
            rng.randint(0, 3, 100),
            epochs=5,
        )
        self.assertLess(scores["test_accuracy"], 0.6)

    def test_encoder_is_unchanged(self):
        x, y = separable()
        encoder = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4)])
        before = [w.copy() for w in encoder.get_weights()]
        kdl.models.linear_probe(encoder, x, y, x, y, epochs=1, batch_size=150)
        self.assertAllClose(encoder.get_weights(), before)

    def test_logistic_regression_standardises_with_training_statistics(self):
        # Far from zero and on a huge scale: unusable without the training
        # mean and std (Adam at 1e-2 for 10 epochs would not get there).
        x, y = separable()
        far = x * 1e4 + 1e6
        scores = kdl.models.logistic_regression(
            far[:200], y[:200], far[200:], y[200:], epochs=10, batch_size=40
        )
        self.assertGreater(scores["test_accuracy"], 0.95)


class KnnTest(TestCase):
    def test_matches_the_example_by_example_reference(self):
        rng = np.random.RandomState(0)
        train = rng.normal(size=(40, 6)) + 0.5
        y = rng.randint(0, 4, 40)
        queries = rng.normal(size=(25, 3, 2)) + 0.5  # flattened to 6
        flat = queries.reshape(25, -1)
        for k, center in ((1, True), (5, True), (7, False), (40, True)):
            got = kdl.models.knn_predict(
                train, y, queries, k=k, center=center, chunk=8
            )
            want = knn_reference(train, y, flat, k, center)
            self.assertAllEqual(got, want)
        accuracy = kdl.models.knn_accuracy(train, y, queries, y[:25], k=5)
        want = np.mean(knn_reference(train, y, flat, 5, True) == y[:25])
        self.assertAlmostEqual(accuracy, want)

    def test_votes_then_similarity_break_ties(self):
        train = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
        y = np.array([0, 1, 1])
        query = np.array([[1.0, 0.05]])
        # k=2: one vote each; class 0's neighbour is the closer one.
        self.assertEqual(
            kdl.models.knn_predict(train, y, query, k=2, center=False)[0], 0
        )
        # k=3: two votes for class 1 beat one closer vote for class 0.
        self.assertEqual(
            kdl.models.knn_predict(train, y, query, k=3, center=False)[0], 1
        )

    def test_errors(self):
        x, y = separable(n=10)
        with self.assertRaisesRegex(ValueError, "k=11"):
            kdl.models.knn_predict(x, y, x, k=11)
        with self.assertRaisesRegex(ValueError, "y_train"):
            kdl.models.knn_predict(x, y[:5], x)
        with self.assertRaisesRegex(ValueError, "smallest -1"):
            kdl.models.knn_predict(x, y - 1, x)
        with self.assertRaisesRegex(ValueError, "query_features"):
            kdl.models.knn_predict(x, y, x[:, :3])
        with self.assertRaisesRegex(ValueError, "chunk"):
            kdl.models.knn_predict(x, y, x, chunk=0)


def tiny_convnet():
    return keras.Sequential(
        [
            keras.Input((5, 5, 1)),
            keras.layers.Conv2D(2, 3, padding="same", name="conv"),
            keras.layers.ReLU(name="relu"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
        ]
    )


class LayerTapsTest(TestCase):
    def test_pooled_and_flat_outputs_match_numpy(self):
        model = tiny_convnet()
        x = np.random.RandomState(0).rand(3, 5, 5, 1).astype("float32")
        taps = kdl.models.layer_taps(
            model, {"a": "relu", "b": "gap"}, max_features=8
        )
        out = taps.predict(x, verbose=0)
        relu = keras.Model(model.inputs, model.get_layer("relu").output)
        maps = relu.predict(x, verbose=0)
        # 8 features of 2 channels: a 2 x 2 grid of 5 pixels, windows of 3:
        # rows/cols [0, 3) and [3, 5).
        bins = (slice(0, 3), slice(3, 5))
        want = np.stack(
            [
                np.stack([maps[:, r, c].mean((1, 2)) for c in bins], 1)
                for r in bins
            ],
            1,
        ).reshape(3, -1)
        self.assertAllClose(out["a"], want, atol=1e-6)
        self.assertAllClose(out["b"], model.predict(x, verbose=0), atol=1e-6)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "nope"):
            kdl.models.layer_taps(tiny_convnet(), {"a": "nope"})
        with self.assertRaisesRegex(ValueError, "max_features"):
            kdl.models.layer_taps(tiny_convnet(), ["relu"], max_features=0)


class ProbeLayersTest(TestCase):
    def test_scores_per_layer_and_the_model_is_unchanged(self):
        rng = np.random.RandomState(0)
        y = rng.randint(0, 2, 60)
        x = (
            rng.rand(60, 5, 5, 1).astype("float32")
            + 2.0 * y[:, None, None, None]
        )
        model = tiny_convnet()
        before = [w.copy() for w in model.get_weights()]
        out = kdl.models.probe_layers(
            model,
            {"conv": "relu", "features": "gap"},
            (x[:40], y[:40]),
            (x[40:], y[40:]),
            max_features=8,
            k=3,
            epochs=1,
        )
        self.assertEqual(list(out), ["conv", "features"])
        self.assertEqual(out["conv"]["dim"], 8)
        self.assertEqual(out["features"]["dim"], 2)
        for scores in out.values():
            self.assertEqual(
                set(scores), {"linear", "linear_train", "knn", "dim"}
            )
        taps = kdl.models.layer_taps(model, {"f": "gap"})
        f = taps.predict(x, verbose=0)["f"]
        knn = kdl.models.knn_accuracy(f[:40], y[:40], f[40:], y[40:], k=3)
        self.assertAlmostEqual(out["features"]["knn"], knn)
        self.assertAllClose(model.get_weights(), before)


class FineTuneAccuracyTest(TestCase):
    def test_learns_and_leaves_the_backbone_unchanged(self):
        x, y = separable(n=400)
        backbone = keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(8, activation="relu")]
        )
        before = [w.copy() for w in backbone.get_weights()]
        accuracy = kdl.models.fine_tune_accuracy(
            backbone,
            x[:300],
            y[:300],
            x[300:],
            y[300:],
            epochs=20,
            batch_size=30,  # whole batches: one compiled step on JAX
            learning_rate=1e-2,
        )
        self.assertGreater(accuracy, 0.9)
        self.assertAllClose(backbone.get_weights(), before)

    def test_small_convnet_backbone(self):
        rng = np.random.RandomState(0)
        x = rng.rand(16, 28, 28, 1).astype("float32")
        y = rng.randint(0, 10, 16)
        backbone = kdl.models.small_convnet(width=2)
        accuracy = kdl.models.fine_tune_accuracy(
            backbone, x, y, x, y, epochs=1, num_classes=10
        )
        self.assertGreaterEqual(accuracy, 0.0)
        self.assertLessEqual(accuracy, 1.0)
