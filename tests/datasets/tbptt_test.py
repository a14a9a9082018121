"""Truncated-BPTT batches."""

import numpy as np
import tensorflow as tf

from kdl import datasets
from tests import test_case


class TbpttTest(test_case.TestCase):
    def test_continuity_and_shift(self):
        ids = np.arange(103, dtype=np.int32)
        ds = datasets.tbptt_dataset(ids, batch_size=4, seq_len=5)
        batches = list(ds.as_numpy_iterator())
        # (103 - 1) // 4 = 25 tokens per row -> 5 batches of 5 steps.
        self.assertEqual(len(batches), 5)
        self.assertEqual(int(ds.cardinality()), 5)
        for x, y in batches:
            self.assertEqual(x.shape, (4, 5))
            self.assertEqual(x.dtype, np.int32)
            self.assertAllEqual(y, x + 1)
        for k in range(4):
            x_k, x_next = batches[k][0], batches[k + 1][0]
            # Row i of batch k+1 starts right after row i of batch k.
            self.assertAllEqual(x_next[:, 0], x_k[:, -1] + 1)
        rows = np.concatenate([b[0] for b in batches], axis=1)
        self.assertAllEqual(rows, np.arange(100).reshape(4, 25))

    def test_stream_of_text_ids(self):
        rng = np.random.default_rng(0)
        ids = rng.integers(0, 50, size=1000).astype(np.int32)
        ds = datasets.tbptt_dataset(ids, batch_size=3, seq_len=7)
        xs, ys = zip(*ds.as_numpy_iterator())
        x = np.concatenate(xs, axis=1)
        y = np.concatenate(ys, axis=1)
        row = (len(ids) - 1) // 3
        for i in range(3):
            self.assertAllEqual(x[i], ids[i * row : i * row + x.shape[1]])
            self.assertAllEqual(
                y[i], ids[i * row + 1 : i * row + 1 + x.shape[1]]
            )

    def test_inside_dataset_map_and_stateful_rnn(self):
        import keras

        ids = np.arange(2 * 4 * 3 + 1) % 10
        ds = datasets.tbptt_dataset(ids, batch_size=2, seq_len=4)
        ds = ds.map(lambda x, y: (x, tf.one_hot(y, 10)))
        x, y = next(iter(ds))
        self.assertEqual(tuple(y.shape), (2, 4, 10))
        model = keras.Sequential(
            [
                keras.Input((4,), batch_size=2),
                keras.layers.Embedding(10, 8),
                keras.layers.SimpleRNN(8, stateful=True, return_sequences=True),
                keras.layers.Dense(10),
            ]
        )
        model.compile("sgd", keras.losses.CategoricalCrossentropy(True))
        history = model.fit(ds, epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "batch_size"):
            datasets.tbptt_dataset(np.arange(10), 0, 2)
        with self.assertRaisesRegex(ValueError, "seq_len"):
            datasets.tbptt_dataset(np.arange(10), 2, 0)
        with self.assertRaisesRegex(ValueError, "Too few tokens"):
            datasets.tbptt_dataset(np.arange(10), 4, 5)
