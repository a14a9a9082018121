import keras
import numpy as np

import kdl
from tests.test_case import TestCase


class FanInUniformTest(TestCase):
    def test_bounds_and_spread(self):
        init = kdl.initializers.FanInUniform(seed=1)
        w = np.asarray(init((400, 300)))
        bound = 1 / np.sqrt(400)
        self.assertLessEqual(np.abs(w).max(), bound)
        # Uniform on [-b, b] has mean 0 and std b / sqrt(3).
        self.assertAllClose(w.std(), bound / np.sqrt(3), rtol=0.02)
        self.assertLess(abs(w.mean()), 0.01 * bound)

    def test_fan_in_of_each_rank(self):
        init = kdl.initializers.FanInUniform(scale=2.0, seed=2)
        for shape, fan_in in (
            ((3, 3, 16, 8), 3 * 3 * 16),  # conv: spatial * in_channels
            ((5, 7, 9), 5 * 7),
            ((50,), 50),  # a vector: its length
        ):
            w = np.asarray(init(shape))
            bound = 2.0 / np.sqrt(fan_in)
            self.assertEqual(w.shape, shape)
            self.assertLessEqual(np.abs(w).max(), bound, msg=str(shape))
            self.assertGreater(np.abs(w).max(), 0.9 * bound, msg=str(shape))

    def test_dtype_and_seeded_draws(self):
        a = kdl.initializers.FanInUniform(seed=3)((20, 4), dtype="float16")
        self.assertEqual(keras.backend.standardize_dtype(a.dtype), "float16")
        b = kdl.initializers.FanInUniform(seed=3)((20, 4), dtype="float16")
        self.assertAllEqual(a, b)
        c = kdl.initializers.FanInUniform(seed=4)((20, 4), dtype="float16")
        self.assertFalse(np.array_equal(np.asarray(a), np.asarray(c)))

    def test_serializes(self):
        init = kdl.initializers.FanInUniform(scale=2.0, seed=3)
        self.assertEqual(init.get_config(), {"scale": 2.0, "seed": 3})
        layer = keras.layers.Dense(2, kernel_initializer=init)
        revived = keras.layers.Dense.from_config(layer.get_config())
        self.assertIsInstance(
            revived.kernel_initializer, kdl.initializers.FanInUniform
        )
        self.assertEqual(revived.kernel_initializer.scale, 2.0)
        self.assertEqual(revived.kernel_initializer.seed, 3)
        # A SeedGenerator seed is not serializable: the config says None.
        gen = kdl.initializers.FanInUniform(seed=keras.random.SeedGenerator(1))
        self.assertIsNone(gen.get_config()["seed"])

    def test_errors(self):
        for bad in (0, -1.0):
            with self.assertRaisesRegex(ValueError, "scale"):
                kdl.initializers.FanInUniform(scale=bad)
        with self.assertRaisesRegex(ValueError, "shape"):
            kdl.initializers.FanInUniform()(())
