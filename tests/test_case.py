"""kdl's test helpers (our own; the private `keras.src` testing is not used).

`TestCase.run_layer_test` checks what every public kdl layer promises:
config round trip, `.keras` save/load with identical outputs, weight counts,
symbolic and eager calls, one `fit` step with `jit_compile=True`, the
mixed_float16 / mixed_bfloat16 dtypes, and a `fit` under
`tf.distribute.MirroredStrategy` over the 2 logical CPUs that `conftest.py`
configures.
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from keras import ops


def _flatten(x):
    return tf.nest.flatten(x)


def _as_list(shapes):
    if isinstance(shapes, list):
        return shapes
    return [shapes]


class TestCase(parameterized.TestCase):
    """A `unittest.TestCase` with the numeric and layer checks kdl needs.

    It is an `absl.testing.parameterized.TestCase`, so shared contracts are
    written once with `@parameterized.named_parameters`.

    Seeding (`keras.utils.set_random_seed(1337)`) and the dtype-policy
    reset (`float32` before and after each test, then `clear_session`)
    live in one place: the autouse fixture of the root `conftest.py`. It
    covers these classes and the recipes' plain pytest functions alike, so
    this class does not repeat it.
    """

    def get_temp_dir(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(lambda: tf.io.gfile.rmtree(tmp))
        return tmp

    def assertAllClose(self, x, y, atol=1e-6, rtol=1e-6, msg=None):
        x = [np.asarray(ops.convert_to_numpy(a)) for a in _flatten(x)]
        y = [np.asarray(ops.convert_to_numpy(b)) for b in _flatten(y)]
        self.assertEqual(len(x), len(y), msg)
        for a, b in zip(x, y):
            np.testing.assert_allclose(
                a.astype("float64"),
                b.astype("float64"),
                atol=atol,
                rtol=rtol,
                err_msg=msg or "",
            )

    def assertAllEqual(self, x, y, msg=None):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(x), ops.convert_to_numpy(y), err_msg=msg or ""
        )

    # ------------------------------------------------------------------
    def run_layer_test(
        self,
        layer_cls,
        init_kwargs,
        input_data,
        expected_output_shape=None,
        expected_num_trainable_weights=None,
        expected_num_non_trainable_weights=None,
        call_kwargs=None,
        supports_masking=None,
        run_training_check=True,
        run_mixed_precision_check=True,
        run_distribute_check=True,
        output_index=None,
        atol=1e-5,
    ):
        """Runs the standard checks on a layer.

        Args:
            layer_cls: the layer class.
            init_kwargs: dict of constructor arguments.
            input_data: a numpy array (or a list of arrays for several
                inputs) with a leading batch dimension.
            expected_output_shape: shape (or list of shapes) of the eager
                output on `input_data`.
            expected_num_*_weights: weight counts after building.
            call_kwargs: extra keyword arguments for `call`.
            supports_masking: expected value of `layer.supports_masking`.
            run_training_check: fit one step with `jit_compile=True` and
                check that trainable weights change.
            run_mixed_precision_check: check the dtypes under
                mixed_float16 and mixed_bfloat16 (outputs in the compute
                dtype, variables in float32).
            run_distribute_check: fit one step under a 2-replica
                `MirroredStrategy`.
            output_index: for layers that return several tensors, which one
                the training/distribute checks regress on (default 0).
        """
        call_kwargs = call_kwargs or {}
        multi_input = isinstance(input_data, (list, tuple))
        inputs_np = list(input_data) if multi_input else [input_data]

        def make(**extra):
            return layer_cls(**{**init_kwargs, **extra})

        def call(layer, xs, **kw):
            args = xs if multi_input else xs[0]
            return layer(args, **{**call_kwargs, **kw})

        # Config round trip.
        layer = make()
        config = layer.get_config()
        for key in init_kwargs:
            self.assertIn(key, config, f"get_config() lacks {key!r}")
        revived = layer_cls.from_config(config)
        self.assertEqual(revived.get_config(), config)
        # Serialization through the registry.
        blob = keras.saving.serialize_keras_object(layer)
        self.assertEqual(
            keras.saving.deserialize_keras_object(blob).get_config(), config
        )
        if supports_masking is not None:
            self.assertEqual(layer.supports_masking, supports_masking)

        # Eager call, shapes and weight counts.
        outputs = call(layer, [ops.convert_to_tensor(x) for x in inputs_np])
        if expected_output_shape is not None:
            got = [tuple(o.shape) for o in _flatten(outputs)]
            want = [tuple(s) for s in _as_list(expected_output_shape)]
            self.assertEqual(got, want)
        if expected_num_trainable_weights is not None:
            self.assertLen(
                layer.trainable_weights, expected_num_trainable_weights
            )
        if expected_num_non_trainable_weights is not None:
            self.assertLen(
                layer.non_trainable_weights,
                expected_num_non_trainable_weights,
            )
        # compute_output_shape agrees with the eager call.
        if multi_input:
            shapes = [tuple(x.shape) for x in inputs_np]
        else:
            shapes = tuple(inputs_np[0].shape)
        try:
            static = layer.compute_output_shape(shapes)
        except NotImplementedError:
            static = None
        if static is not None and expected_output_shape is not None:
            static_list = (
                [tuple(s) for s in static]
                if isinstance(static, (list, tuple))
                and static
                and isinstance(static[0], (list, tuple))
                else [tuple(static)]
            )
            want = [tuple(s) for s in _as_list(expected_output_shape)]
            self.assertEqual(static_list, want)

        # Symbolic call in a functional model, and .keras save/load.
        model = self._functional(make(), inputs_np, call_kwargs, multi_input)
        ref = model(inputs_np if multi_input else inputs_np[0])
        path = os.path.join(self.get_temp_dir(), "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(
            loaded(inputs_np if multi_input else inputs_np[0]), ref, atol=atol
        )

        if run_training_check:
            self._fit_check(
                make, inputs_np, call_kwargs, multi_input, output_index
            )
        if run_mixed_precision_check:
            for policy in ("mixed_float16", "mixed_bfloat16"):
                self._precision_check(make, inputs_np, call, policy)
        if run_distribute_check:
            strategy = two_replica_strategy()
            with strategy.scope():
                self._fit_check(
                    make,
                    inputs_np,
                    call_kwargs,
                    multi_input,
                    output_index,
                    jit_compile=False,
                    batch_size=len(inputs_np[0]),
                )

    def assertLen(self, container, n, msg=None):
        self.assertEqual(len(container), n, msg)

    # ------------------------------------------------------------------
    def _functional(self, layer, inputs_np, call_kwargs, multi_input):
        sym = [keras.Input(shape=x.shape[1:], dtype=x.dtype) for x in inputs_np]
        out = layer(sym if multi_input else sym[0], **call_kwargs)
        return keras.Model(sym if multi_input else sym[0], out)

    def _fit_check(
        self,
        make,
        inputs_np,
        call_kwargs,
        multi_input,
        output_index,
        jit_compile=True,
        batch_size=None,
    ):
        layer = make()
        model = self._functional(layer, inputs_np, call_kwargs, multi_input)
        out = model(inputs_np if multi_input else inputs_np[0])
        flat = _flatten(out)
        target_out = flat[output_index or 0]
        if len(flat) > 1:
            model = keras.Model(model.inputs, target_out)
        target = (
            np.random.RandomState(0)
            .normal(size=tuple(target_out.shape))
            .astype("float32")
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.01),
            loss="mse",
            jit_compile=jit_compile,
        )
        before = [np.array(w) for w in layer.trainable_weights]
        x = inputs_np if multi_input else inputs_np[0]
        history = model.fit(
            x,
            target,
            batch_size=batch_size or len(inputs_np[0]),
            epochs=1,
            verbose=0,
        )
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        if before:
            after = [np.array(w) for w in layer.trainable_weights]
            changed = any(
                not np.array_equal(b, a) for b, a in zip(before, after)
            )
            self.assertTrue(changed, "no trainable weight changed in fit")

    def _precision_check(self, make, inputs_np, call, policy):
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            layer = make()
            xs = [
                ops.cast(x, layer.compute_dtype)
                if np.issubdtype(x.dtype, np.floating)
                else ops.convert_to_tensor(x)
                for x in inputs_np
            ]
            out = call(layer, xs)
            for o in _flatten(out):
                if o is None or not ops.is_tensor(o):
                    continue
                if "float" in str(o.dtype):
                    self.assertEqual(
                        keras.backend.standardize_dtype(o.dtype),
                        layer.compute_dtype,
                        f"output dtype under {policy}",
                    )
            for w in layer.weights:
                self.assertEqual(w.dtype, "float32", f"{w.path} under {policy}")
        finally:
            keras.config.set_dtype_policy(previous)


_STRATEGY = None


def two_replica_strategy():
    """A `MirroredStrategy` over the 2 logical CPUs of `conftest.py`."""
    global _STRATEGY
    if _STRATEGY is None:
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(cpus) < 2:  # conftest.py configures 2; never skip silently.
            raise RuntimeError(
                f"2 logical CPU devices are needed; found {len(cpus)}. "
                "Run the tests with pytest from the repository root."
            )
        _STRATEGY = tf.distribute.MirroredStrategy(cpus[:2])
    return _STRATEGY
