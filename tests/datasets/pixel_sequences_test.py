"""pixel_sequences: block averages, row order, a fixed permutation."""

import numpy as np

from kdl import datasets
from tests.test_case import TestCase


class PixelSequencesTest(TestCase):
    def test_block_means_in_row_order(self):
        x = np.arange(2 * 4 * 4).reshape(2, 4, 4).astype("uint8")
        seq = datasets.pixel_sequences(x, size=2)
        self.assertEqual(seq.shape, (2, 4, 1))
        self.assertEqual(seq.dtype, np.float32)
        first = x[0].reshape(2, 2, 2, 2).mean((1, 3)).ravel() / 255
        self.assertAllClose(seq[0, :, 0], first)
        full = datasets.pixel_sequences(x[..., None], size=4)  # (N, H, W, 1)
        self.assertAllClose(full[:, :, 0], x.reshape(2, -1) / 255)

    def test_permutation_is_fixed_by_its_seed(self):
        x = np.random.RandomState(0).randint(0, 256, (3, 28, 28), "uint8")
        rows = datasets.pixel_sequences(x)
        self.assertEqual(rows.shape, (3, 196, 1))
        a = datasets.pixel_sequences(x, permutation_seed=1)
        self.assertAllClose(a, datasets.pixel_sequences(x, permutation_seed=1))
        self.assertFalse(np.allclose(a, rows))
        self.assertAllClose(np.sort(a, 1), np.sort(rows, 1))  # same pixels
        order = np.random.RandomState(1).permutation(196)
        self.assertAllClose(a, rows[:, order])

    def test_errors(self):
        x = np.zeros((2, 28, 28), "uint8")
        with self.assertRaisesRegex(ValueError, "size"):
            datasets.pixel_sequences(x, size=0)
        with self.assertRaisesRegex(ValueError, "size=5"):
            datasets.pixel_sequences(x, size=5)
        with self.assertRaisesRegex(ValueError, "permutation_seed"):
            datasets.pixel_sequences(x, permutation_seed=-1)
        with self.assertRaisesRegex(ValueError, "images"):
            datasets.pixel_sequences(np.zeros((28, 28)), size=14)
