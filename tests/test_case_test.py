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


@keras.saving.register_keras_serializable(package="kdl_tests")
class _Float32Output(keras.layers.Layer):
    """Ignores the dtype policy: its output is float32 under mixed ones."""

    def call(self, x):
        return keras.ops.cast(x, "float32") * 2.0


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

    def test_output_outside_the_dtype_policy_fails(self):
        # On JAX the precision check traces the call instead of running it:
        # it must still see the output's dtype.
        with self.assertRaisesRegex(
            AssertionError, "output dtype under mixed_float16"
        ):
            self.run_layer_test(
                _Float32Output,
                {},
                np.ones((4, 5), "float32"),
                expected_output_shape=(4, 5),
                run_training_check=False,
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

    @test_case.skip_unless_tensorflow("tf.distribute MirroredStrategy")
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


class GradientsTest(test_case.TestCase):
    """`test_case.gradients` and `jit_call` on the current backend."""

    def test_arguments_and_variables(self):
        layer = keras.layers.Dense(2)
        x = np.arange(6, dtype="float32").reshape(3, 2)
        layer.build(x.shape)
        kernel = np.asarray(layer.kernel)
        value, (dx, dkernel, dbias) = test_case.gradients(
            lambda x: layer(x) ** 2, [x], [layer.kernel, layer.bias]
        )
        y = x @ kernel
        self.assertAllClose(value, y**2)
        self.assertAllClose(dx, 2 * y @ kernel.T, atol=1e-5)
        self.assertAllClose(dkernel, x.T @ (2 * y), atol=1e-5)
        self.assertAllClose(dbias, (2 * y).sum(0), atol=1e-5)

    def test_aux_unconnected_and_updates(self):
        layer = keras.layers.BatchNormalization(momentum=0.0)
        x = np.random.RandomState(0).normal(2.0, 1.0, (8, 3))
        x = x.astype("float32")
        layer.build(x.shape)

        def fn(x):
            y = layer(x, training=True)
            return keras.ops.sum(y), y

        (loss, y), grads = test_case.gradients(
            fn,
            [x],
            [layer.gamma, layer.moving_mean],
            has_aux=True,
            updates=layer.non_trainable_weights,
        )
        self.assertEqual(tuple(y.shape), (8, 3))
        self.assertAllClose(loss, 0.0, atol=1e-4)
        self.assertAllClose(grads[2], np.zeros(3))  # moving_mean: unused
        self.assertAllClose(layer.moving_mean, x.mean(0), atol=1e-5)

    def test_jit_call_keeps_assignments(self):
        layer = keras.layers.BatchNormalization(momentum=0.0)
        x = np.random.RandomState(1).normal(2.0, 1.0, (8, 3))
        x = x.astype("float32")
        layer.build(x.shape)
        want = layer(x, training=True)
        layer.moving_mean.assign(np.zeros(3, "float32"))
        got = test_case.jit_call(layer, x, training=True)
        self.assertAllClose(got, want, atol=1e-5)
        self.assertAllClose(layer.moving_mean, x.mean(0), atol=1e-5)


class ConnectionAttemptsTest(test_case.TestCase):
    def test_records_lookups_and_connections_and_fails_them(self):
        import socket
        import urllib.request

        with test_case.connection_attempts() as attempts:
            with self.assertRaises(OSError):
                urllib.request.urlopen("http://example.invalid/x", timeout=1)
            with socket.socket() as s:
                with self.assertRaises(ConnectionRefusedError):
                    s.connect(("127.0.0.1", 9))
        self.assertEqual(attempts, ["example.invalid", ("127.0.0.1", 9)])
        with test_case.connection_attempts() as attempts:
            pass
        self.assertEqual(attempts, [])
