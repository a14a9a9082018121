"""The harness itself: it passes a correct layer and fails a broken one."""

import keras
import numpy as np
import tensorflow as tf

from tests import test_case


@keras.saving.register_keras_serializable(package="kdl_tests")
class _NoConfigLayer(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))

    def call(self, x):
        return x @ self.w

    def get_config(self):
        # Forgets `units`: the round trip must catch it.
        return super().get_config()


class HarnessTest(test_case.TestCase):
    def test_dense_passes(self):
        self.run_layer_test(
            keras.layers.Dense,
            {"units": 3},
            np.ones((4, 5), "float32"),
            expected_output_shape=(4, 3),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0,
        )

    def test_missing_config_fails(self):
        with self.assertRaises(Exception):
            self.run_layer_test(
                _NoConfigLayer,
                {"units": 3},
                np.ones((4, 5), "float32"),
                run_mixed_precision_check=False,
                run_distribute_check=False,
            )

    def test_wrong_shape_fails(self):
        with self.assertRaises(AssertionError):
            self.run_layer_test(
                keras.layers.Dense,
                {"units": 3},
                np.ones((4, 5), "float32"),
                expected_output_shape=(4, 4),
                run_training_check=False,
                run_mixed_precision_check=False,
                run_distribute_check=False,
            )


class SetupTest(test_case.TestCase):
    """What `conftest.py` promises every test process (xdist workers too)."""

    def test_two_logical_cpus_and_a_two_replica_strategy(self):
        cpus = tf.config.list_logical_devices("CPU")
        self.assertGreaterEqual(len(cpus), 2)
        strategy = test_case.two_replica_strategy()
        self.assertEqual(strategy.num_replicas_in_sync, 2)

    def test_seed_and_float32_policy_before_each_test(self):
        self.assertEqual(keras.config.dtype_policy().name, "float32")
        first = np.asarray(keras.random.uniform((3,)))
        keras.utils.set_random_seed(1337)
        self.assertAllEqual(keras.random.uniform((3,)), first)
