"""class_grouped_indices / class_grouped_batches: few classes per batch,
every example once per epoch, reshuffled per seed; errors."""

import numpy as np
import tensorflow as tf

from kdl import datasets
from tests.test_case import TestCase


def _labels(counts, seed=0):
    y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    return np.random.RandomState(seed).permutation(y).astype("int32")


class ClassGroupedIndicesTest(TestCase):
    def check_epoch(self, y, batch_size, k, seed):
        batches = datasets.class_grouped_indices(y, batch_size, k, seed)
        everything = np.concatenate(batches)
        self.assertEqual(sorted(everything), list(range(len(y))))  # once
        for b in batches:
            self.assertLessEqual(len(np.unique(y[b])), k)
            self.assertLessEqual(len(b), batch_size)
        return batches

    def test_few_classes_per_batch_every_example_once(self):
        y = _labels([103, 97, 64, 130, 50, 9])  # uneven, one tiny class
        for batch_size, k in ((32, 2), (32, 1), (30, 3), (8, 8)):
            batches = self.check_epoch(y, batch_size, k, seed=0)
            full = [len(b) == batch_size for b in batches]
            # Short batches: a class's last piece, or the epoch's end.
            self.assertLessEqual(full.count(False), 2 * 6 + k)
        batches = self.check_epoch(y, 32, 2, seed=0)
        two = [len(np.unique(y[b])) == 2 for b in batches]
        self.assertGreater(np.mean(two), 0.8)  # mostly 16 + 16

    def test_balanced_classes_give_full_batches(self):
        y = _labels([64] * 10)
        batches = self.check_epoch(y, 32, 2, seed=3)
        self.assertEqual([len(b) for b in batches], [32] * 20)
        for b in batches:
            self.assertEqual(sorted(np.bincount(y[b])[y[b]].tolist())[0], 16)

    def test_seeded_order(self):
        y = _labels([40] * 5)
        a = datasets.class_grouped_indices(y, 16, 2, seed=1)
        b = datasets.class_grouped_indices(y, 16, 2, seed=1)
        c = datasets.class_grouped_indices(y, 16, 2, seed=2)
        self.assertEqual([x.tolist() for x in a], [x.tolist() for x in b])
        self.assertNotEqual([x.tolist() for x in a], [x.tolist() for x in c])

    def test_errors(self):
        y = _labels([10, 10])
        with self.assertRaisesRegex(ValueError, "classes_per_batch"):
            datasets.class_grouped_indices(y, 2, 3)
        with self.assertRaisesRegex(ValueError, "classes_per_batch"):
            datasets.class_grouped_indices(y, 2, 0)
        with self.assertRaisesRegex(ValueError, "batch_size"):
            datasets.class_grouped_indices(y, 0, 1)
        with self.assertRaisesRegex(ValueError, "seed"):
            datasets.class_grouped_indices(y, 4, 1, seed=-1)


class ClassGroupedBatchesTest(TestCase):
    def test_dataset_epochs_images_and_labels(self):
        y = _labels([24, 20, 30, 6])
        x = (np.arange(len(y))[:, None, None] % 251).astype("uint8")
        x = np.broadcast_to(x, (len(y), 4, 4)).copy()
        ds = datasets.class_grouped_batches(x, y, 8, 2, seed=5, epochs=2)
        self.assertIsInstance(ds, tf.data.Dataset)
        seen = []
        for images, labels in ds:
            self.assertEqual(images.dtype, tf.float32)
            self.assertEqual(images.shape[1:], (4, 4, 1))
            self.assertLessEqual(len(np.unique(labels.numpy())), 2)
            index = np.round(images.numpy()[:, 0, 0, 0] * 255).astype(int)
            self.assertAllEqual(labels.numpy(), y[index])  # pairs kept
            seen.extend(index.tolist())
        per_epoch = len(y)
        self.assertEqual(sorted(seen), sorted(2 * list(x[:, 0, 0])))
        self.assertEqual(len(seen), 2 * per_epoch)
        first = [b.tolist() for b in datasets.class_grouped_indices(y, 8, 2, 5)]
        second = [
            b.tolist() for b in datasets.class_grouped_indices(y, 8, 2, 6)
        ]
        self.assertNotEqual(first, second)  # epoch e uses seed + e

    def test_trains_a_model(self):
        import keras

        y = _labels([16, 16, 16])
        x = np.random.RandomState(0).rand(len(y), 3, 3).astype("float32")
        ds = datasets.class_grouped_batches(x, y, 8, 2, epochs=1)
        model = keras.Sequential(
            [
                keras.Input((3, 3, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(3),
            ]
        )
        model.compile("sgd", "sparse_categorical_crossentropy")
        history = model.fit(ds, epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))

    def test_errors(self):
        x, y = np.zeros((4, 2, 2), "uint8"), np.zeros(3, "int32")
        with self.assertRaisesRegex(ValueError, "labels"):
            datasets.class_grouped_batches(x, y, 2, 1)
        with self.assertRaisesRegex(ValueError, "epochs"):
            datasets.class_grouped_batches(x, np.zeros(4), 2, 1, epochs=0)
