"""kdl.models.search_codes: codes found with the generator fixed."""

import keras
import numpy as np

import kdl
from kdl.models.glo_code_search import search_codes
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import skip_unless_tensorflow

D = 3


def linear_generator(seed=0):
    """`x = W z` (no bias, no activation): least squares is the optimum."""
    kernel = np.random.RandomState(seed).normal(size=(D, 12))
    model = keras.Sequential(
        [
            keras.Input(shape=(D,)),
            keras.layers.Dense(12, use_bias=False),
            keras.layers.Reshape((3, 4, 1)),
        ]
    )
    model.layers[0].kernel.assign(kernel)
    return model, kernel


class SearchCodesTest(TestCase):
    @skip_unless_tensorflow("the code search is a tf.function loop")
    def test_finds_the_least_squares_codes(self):
        generator, kernel = linear_generator()
        rng = np.random.RandomState(1)
        images = rng.normal(size=(5, 12))  # not in the generator's range
        # argmin_z |z W - x|^2 per image: W's least-squares solution.
        want = np.linalg.lstsq(kernel.T, images.T, rcond=None)[0].T
        codes = search_codes(
            generator,
            images.reshape(5, 3, 4),  # no channel axis: added
            np.zeros((5, D)),
            steps=300,
            learning_rate=0.05,
            batch_size=2,  # 3 batches, the last padded
        )
        self.assertEqual(codes.shape, (5, D))
        self.assertAllClose(codes, want, atol=2e-3)
        self.assertAllClose(generator.layers[0].kernel, kernel)  # fixed
        # With the unit-ball constraint: every code projected.
        ball = search_codes(
            generator,
            (3.0 * want @ kernel).reshape(5, 3, 4),
            np.zeros((5, D)),
            steps=20,
            constraint=kdl.constraints.UnitBallRows(),
        )
        self.assertLessEqual(np.linalg.norm(ball, axis=1).max(), 1 + 1e-5)

    @skip_unless_tensorflow("the code search is a tf.function loop")
    def test_errors(self):
        generator, _ = linear_generator()
        images = np.zeros((2, 3, 4, 1))
        for name, kwargs in (
            ("steps", dict(steps=0)),
            ("learning_rate", dict(learning_rate=0.0)),
            ("batch_size", dict(batch_size=1.5)),
        ):
            with self.assertRaisesRegex(ValueError, name):
                search_codes(generator, images, np.zeros((2, D)), **kwargs)
        with self.assertRaisesRegex(ValueError, "start_codes"):
            search_codes(generator, images, np.zeros((3, D)))
        with self.assertRaisesRegex(ValueError, "images"):
            search_codes(generator, images[:0], np.zeros((0, D)))

    def test_other_backends(self):
        if backend() == "tensorflow":
            self.skipTest("the search runs on TensorFlow")
        generator, _ = linear_generator()
        with self.assertRaisesRegex(NotImplementedError, backend()):
            search_codes(generator, np.zeros((1, 3, 4)), np.zeros((1, D)))
