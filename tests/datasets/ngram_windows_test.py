"""n-gram (context, next token) windows and their tf.data pipeline."""

import numpy as np
import tensorflow as tf

from kdl import datasets
from tests import test_case


def _numpy_windows(ids, order, pad_id=None):
    ids = list(ids)
    if pad_id is not None:
        ids = [pad_id] * (order - 1) + ids
    windows = [ids[i : i + order] for i in range(len(ids) - order + 1)]
    windows = np.array(windows, dtype=np.int64).reshape(-1, order)
    return windows[:, :-1], windows[:, -1]


class NgramWindowsTest(test_case.TestCase):
    def test_eager_unbatched(self):
        ids = np.array([4, 5, 6, 7, 8], np.int32)
        for order in (2, 3, 5, 6):
            for pad_id in (None, 1):
                contexts, targets = datasets.ngram_windows(ids, order, pad_id)
                want_c, want_t = _numpy_windows(ids, order, pad_id)
                self.assertEqual(contexts.dtype, tf.int32)
                self.assertEqual(tuple(contexts.shape), want_c.shape)
                self.assertAllEqual(contexts, want_c)
                self.assertAllEqual(targets, want_t)
        contexts, targets = datasets.ngram_windows(ids, 3, pad_id=0)
        self.assertAllEqual(targets, ids)  # padded: every token a target
        self.assertAllEqual(contexts[0], [0, 0])

    def test_eager_batched(self):
        ids = np.arange(12).reshape(2, 6)
        contexts, targets = datasets.ngram_windows(ids, 4, pad_id=9)
        self.assertEqual(tuple(contexts.shape), (2, 6, 3))
        for row in range(2):
            want_c, want_t = _numpy_windows(ids[row], 4, 9)
            self.assertAllEqual(contexts[row], want_c)
            self.assertAllEqual(targets[row], want_t)

    def test_inside_dataset_map(self):
        sentences = np.arange(30).reshape(5, 6)
        # Unbatched: one sentence per element.
        ds = tf.data.Dataset.from_tensor_slices(sentences)
        ds = ds.map(lambda s: datasets.ngram_windows(s, 3, pad_id=0))
        for (contexts, targets), sentence in zip(ds, sentences):
            want_c, want_t = _numpy_windows(sentence, 3, 0)
            self.assertAllEqual(contexts, want_c)
            self.assertAllEqual(targets, want_t)
        # Batched: a (2, 6) batch per element (and a smaller last one).
        ds = tf.data.Dataset.from_tensor_slices(sentences).batch(2)
        ds = ds.map(lambda s: datasets.ngram_windows(s, 3))
        batches = list(ds)
        self.assertEqual(tuple(batches[0][0].shape), (2, 4, 2))
        self.assertEqual(tuple(batches[-1][0].shape), (1, 4, 2))
        want_c, want_t = _numpy_windows(sentences[4], 3)
        self.assertAllEqual(batches[-1][0][0], want_c)
        self.assertAllEqual(batches[-1][1][0], want_t)

    def test_dataset(self):
        ids = np.arange(103) % 17
        ds = datasets.ngram_dataset(ids, 5, batch_size=10)
        self.assertEqual(int(ds.cardinality()), 10)  # 99 windows
        contexts, targets = map(np.concatenate, zip(*ds.as_numpy_iterator()))
        want_c, want_t = _numpy_windows(ids, 5)
        self.assertEqual(contexts.dtype, np.int32)
        self.assertAllEqual(contexts, want_c)
        self.assertAllEqual(targets, want_t)
        padded = datasets.ngram_dataset(
            ids, 5, 10, pad_id=0, drop_remainder=True
        )
        self.assertEqual(int(padded.cardinality()), 10)  # 103 // 10
        first = next(iter(padded))
        self.assertEqual(tuple(first[0].shape), (10, 4))
        self.assertAllEqual(first[0][0], [0, 0, 0, 0])

    def test_shuffle(self):
        ids = np.arange(200)
        ds = datasets.ngram_dataset(ids, 3, 16, shuffle=True, seed=3)
        epoch1 = np.concatenate([t for _, t in ds.as_numpy_iterator()])
        epoch2 = np.concatenate([t for _, t in ds.as_numpy_iterator()])
        # Every example once per epoch, in a new order each epoch; each
        # context stays with its own target.
        self.assertAllEqual(np.sort(epoch1), np.arange(2, 200))
        self.assertFalse(np.array_equal(epoch1, epoch2))
        for contexts, targets in ds.take(2):
            self.assertAllEqual(contexts[:, 1], targets - 1)
        again = datasets.ngram_dataset(ids, 3, 16, shuffle=True, seed=3)
        first = np.concatenate([t for _, t in again.as_numpy_iterator()])
        self.assertAllEqual(first, epoch1)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "order"):
            datasets.ngram_windows([1, 2, 3], 1)
        with self.assertRaisesRegex(ValueError, "pad_id"):
            datasets.ngram_windows([1, 2, 3], 2, pad_id=-1)
        with self.assertRaisesRegex(ValueError, "ids"):
            datasets.ngram_windows([1.0, 2.0], 2)
        with self.assertRaisesRegex(ValueError, "ids"):
            datasets.ngram_windows(3, 2)
        with self.assertRaisesRegex(ValueError, "batch_size"):
            datasets.ngram_dataset(np.arange(10), 3, 0)
        with self.assertRaisesRegex(ValueError, "order"):
            datasets.ngram_dataset(np.arange(10), 2.5, 4)
        with self.assertRaisesRegex(ValueError, "shuffle"):
            datasets.ngram_dataset(np.arange(10), 3, 4, shuffle=1)
        with self.assertRaisesRegex(ValueError, "seed"):
            datasets.ngram_dataset(np.arange(10), 3, 4, seed=1.5)
        with self.assertRaisesRegex(ValueError, "ids"):
            datasets.ngram_dataset(np.zeros((2, 5), "int32"), 3, 4)
        with self.assertRaisesRegex(ValueError, "Too few tokens"):
            datasets.ngram_dataset(np.arange(3), 5, 4)
