"""Teacher forcing and the translation pipeline."""

import tensorflow as tf

from kdl import datasets
from kdl.datasets import translation
from tests import test_case
from tests.datasets.translation_vectorizers_test import PAIRS


class TeacherForcingTest(test_case.TestCase):
    def test_teacher_forcing(self):
        (s, tin), tout = translation.teacher_forcing(
            tf.constant([5, 6]), tf.constant([7, 8, 9]), 2, 3
        )
        self.assertAllEqual(tin, [2, 7, 8, 9])
        self.assertAllEqual(tout, [7, 8, 9, 3])
        self.assertAllEqual(s, [5, 6])
        ds = tf.data.Dataset.from_tensors(([5, 6], [7, 8, 9])).map(
            lambda a, b: translation.teacher_forcing(a, b, 2, 3)
        )
        (s2, tin2), tout2 = next(iter(ds))
        self.assertAllEqual(tin2, tin)
        self.assertAllEqual(tout2, tout)


class ReverseSourceTest(test_case.TestCase):
    def test_reverses_only_the_real_tokens(self):
        ids = tf.constant([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0], [4, 5, 6, 7, 9]])
        out = datasets.reverse_source_ids(ids)
        self.assertAllEqual(
            out, [[7, 6, 5, 0, 0], [9, 8, 0, 0, 0], [9, 7, 6, 5, 4]]
        )
        self.assertEqual(out.dtype, ids.dtype)
        self.assertAllEqual(out != 0, ids != 0)  # the padding mask
        self.assertAllEqual(datasets.reverse_source_ids(out), ids)
        self.assertAllEqual(datasets.reverse_source_ids([3, 4, 5]), [5, 4, 3])
        self.assertAllEqual(
            datasets.reverse_source_ids([[3, 4, 9]], pad_id=9), [[4, 3, 9]]
        )

    def test_in_dataset_map_batched_and_unbatched(self):
        ds = tf.data.Dataset.from_generator(
            lambda: iter([[5, 6, 7], [8, 9]]),
            output_signature=tf.TensorSpec([None], tf.int32),
        )
        one = ds.map(datasets.reverse_source_ids)
        self.assertEqual([r.numpy().tolist() for r in one], [[7, 6, 5], [9, 8]])
        batched = ds.padded_batch(2).map(datasets.reverse_source_ids)
        self.assertAllEqual(next(iter(batched)), [[7, 6, 5], [9, 8, 0]])

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "source_ids"):
            datasets.reverse_source_ids(tf.zeros((1, 2, 3), tf.int32))


class TranslationDatasetTest(test_case.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.vec = datasets.TranslationVectorizers.adapt(PAIRS, 30, 30)

    def test_structure_padding_and_tokens(self):
        ds = datasets.translation_dataset(PAIRS, self.vec, batch_size=4)
        count = 0
        for (src, tin), tout in ds:
            count += src.shape[0]
            self.assertEqual(src.dtype, tf.int32)
            self.assertEqual(tin.shape, tout.shape)
            tin, tout = tin.numpy(), tout.numpy()
            self.assertTrue((tin[:, 0] == self.vec.start_id).all())
            for row_in, row_out in zip(tin, tout):
                n = int((row_out != 0).sum())
                self.assertEqual(row_out[n - 1], self.vec.end_id)
                self.assertTrue((row_out[n:] == 0).all())
                self.assertAllEqual(row_in[1:n], row_out[: n - 1])
        self.assertEqual(count, len(PAIRS))

    def test_length_filter_and_buckets(self):
        ds = datasets.translation_dataset(
            PAIRS,
            self.vec,
            batch_size=3,
            max_length=8,
            bucket_boundaries=[7],
            shuffle=False,
        )
        lengths = []
        for (src, tin), tout in ds:
            lengths.append(max(src.shape[1], tout.shape[1]))
            self.assertLessEqual(src.shape[1], 8)
        total = sum(1 for _ in ds.unbatch())
        self.assertEqual(total, 15)  # The long pair is dropped.
        # Buckets: a batch is either all < 7 tokens or all >= 7.
        self.assertTrue(all(n <= 9 for n in lengths))
        self.assertEqual(len({n < 7 for n in lengths}), 2)

    def test_weights_and_shuffle(self):
        ds = datasets.translation_dataset(
            PAIRS, self.vec, batch_size=4, with_weights=True, seed=1
        )
        (src, tin), tout, w = next(iter(ds))
        self.assertAllEqual(w, tf.cast(tout != 0, tf.float32))

        def firsts(d):
            return [tuple(x[0][0].numpy()[0]) for x in d]

        a = firsts(
            datasets.translation_dataset(
                PAIRS, self.vec, batch_size=4, with_weights=True, seed=1
            )
        )
        b = firsts(
            datasets.translation_dataset(
                PAIRS, self.vec, batch_size=4, with_weights=True, seed=1
            )
        )
        self.assertEqual(a, b)

    def test_reverse_source_keeps_padding_at_the_end(self):
        plain, reversed_ = (
            datasets.translation_dataset(
                PAIRS, self.vec, batch_size=4, shuffle=False, reverse_source=r
            )
            for r in (False, True)
        )
        for ((a, tin_a), tout_a), ((b, tin_b), tout_b) in zip(plain, reversed_):
            self.assertAllEqual(tin_a, tin_b)
            self.assertAllEqual(tout_a, tout_b)
            self.assertAllEqual(a != 0, b != 0)
            for row_a, row_b in zip(a.numpy(), b.numpy()):
                n = int((row_a != 0).sum())
                self.assertAllEqual(row_b[:n], row_a[:n][::-1])

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "batch_size"):
            datasets.translation_dataset(PAIRS, self.vec, batch_size=0)
        with self.assertRaisesRegex(ValueError, "max_length=1"):
            datasets.translation_dataset(PAIRS, self.vec, max_length=1)
        with self.assertRaisesRegex(ValueError, "empty"):
            datasets.translation_dataset([], self.vec)
