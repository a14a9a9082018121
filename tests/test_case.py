"""kdl's test helpers (our own; the private `keras.src` testing is not used).

`TestCase.run_layer_test` checks what every public kdl layer promises:
config round trip, `.keras` save/load with identical outputs, weight counts,
symbolic and eager calls, one `fit` step with `jit_compile=True`, the
mixed_float16 / mixed_bfloat16 dtypes, and, on TensorFlow, a `fit` under
`tf.distribute.MirroredStrategy` over the 2 logical CPUs that `conftest.py`
configures. It runs on the TensorFlow and the JAX backend.

`gradients(fn, args, variables)` differentiates a function on either
backend (`tf.GradientTape` on TensorFlow; on JAX `jax.value_and_grad` of a
pure function of the arguments and the variables' values, read through a
`keras.StatelessScope` as `Layer.stateless_call` does), so tests need no
`tf.GradientTape`. `skip_unless_tensorflow(reason)` marks tests that are
TensorFlow-only by nature (tf.distribute, tf.function signatures, TF ops).
"""

import contextlib
import os
import shutil
import socket
import tempfile
import unittest
from unittest import mock

import keras
import numpy as np
from absl.testing import parameterized
from keras import ops

_BACKEND = keras.backend.backend()


def backend():
    """The Keras backend the tests run on ("tensorflow", "jax", ...).

    Read once at import (a process has one backend), so tests that patch
    `keras.backend.backend` to run another backend's code path do not
    change what these helpers do.
    """
    return _BACKEND


def skip_unless_tensorflow(reason):
    """Skips a TensorFlow-only test (method or class) on other backends.

    A `unittest.skipIf`, so it also works under
    `parameterized.named_parameters`; the skip reason says why the test is
    TensorFlow-only and names the backend.
    """
    return unittest.skipIf(
        backend() != "tensorflow",
        f"TensorFlow only ({reason}); the backend is {backend()!r}",
    )


def tensorflow_only_for_time(reason):
    """Runs a slow, backend-neutral test on TensorFlow only, to save time.

    For tests whose subject is the same `keras.ops` code on every backend
    (decoding algorithms, model builders trained to a threshold, ...) and
    which cost the JAX pass of the README test command many seconds of
    compilation: they run on TensorFlow, and on other backends only when
    `KDL_ALL_BACKEND_TESTS=1` is set (how they were checked on JAX). Tests
    of backend-specific code (training steps, loops, dtypes) never use it.
    """
    return unittest.skipIf(
        backend() != "tensorflow"
        and os.environ.get("KDL_ALL_BACKEND_TESTS") != "1",
        f"run on TensorFlow only, to save time ({reason}); the backend is "
        f"{backend()!r}; KDL_ALL_BACKEND_TESTS=1 runs it",
    )


def _flatten(x):
    return keras.tree.flatten(x)


def _as_list(shapes):
    if isinstance(shapes, list):
        return shapes
    return [shapes]


def _total(loss):
    """The sum of every element of every float tensor in `loss` (a nest)."""
    return sum(
        ops.sum(t)
        for t in keras.tree.flatten(loss)
        if t is not None and "float" in keras.backend.standardize_dtype(t.dtype)
    )


def gradients(fn, args=(), variables=(), has_aux=False, updates=(), jit=True):
    """Value and gradients of `fn(*args)` on the TensorFlow and JAX backends.

    The differentiated loss is the sum of all elements of every tensor
    `fn` returns (what `tf.GradientTape.gradient` does with a non-scalar or
    nested target); with `has_aux=True`, `fn` returns `(loss, aux)` and
    only `loss` is differentiated.

    On TensorFlow the function runs under a `tf.GradientTape` that watches
    `args` and `variables`. On JAX it is made pure: `args` are arguments of
    `jax.value_and_grad` and the `variables` are read from a
    `keras.StatelessScope` mapping them to traced values, as
    `Layer.stateless_call` does; so on JAX, assignments `fn` makes (moving
    statistics, seed generator states) are kept only for the variables
    listed in `updates` (written back afterwards), and every variable must
    exist before (build the layers first). On JAX the pure function is
    also compiled whole (`jax.jit`, one XLA program) unless `jit=False`:
    differentiated op by op, an unrolled loop compiles each of its slices
    and steps as a program of its own.

    Args:
        fn: a callable taking `len(args)` tensors.
        args: arrays or tensors to differentiate with respect to (floats).
        variables: `keras.Variable`s to differentiate with respect to.
        has_aux: whether `fn` returns `(loss, aux)`.
        updates: variables `fn` assigns (e.g. `layer.non_trainable_weights`)
            whose new values must be kept on JAX too (TensorFlow keeps
            every assignment).
        jit: on JAX, whether to compile the differentiated function (it
            must then be traceable: no Python branching on tensor values).

    Returns:
        `(value, grads)`: what `fn` returned, and a list of gradients, one
        per arg then one per variable (zeros where unconnected).
    """
    variables = list(variables)
    if backend() == "tensorflow":
        import tensorflow as tf

        args = [tf.convert_to_tensor(a) for a in args]
        sources = args + [v.value for v in variables]
        with tf.GradientTape() as tape:
            tape.watch(sources)
            value = fn(*args)
            loss = _total(value[0] if has_aux else value)
        grads = tape.gradient(
            loss, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        return value, [tf.convert_to_tensor(g) for g in grads]
    if backend() == "jax":
        import jax

        updates = list(updates)

        def pure(arg_values, var_values):
            mapping = list(zip(variables, var_values))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                value = fn(*arg_values)
            new = [scope.get_current_value(v) for v in updates]
            return _total(value[0] if has_aux else value), (value, new)

        arg_values = [ops.convert_to_tensor(a) for a in args]
        var_values = [v.value for v in variables]
        value_and_grad = jax.value_and_grad(pure, argnums=(0, 1), has_aux=True)
        if jit:
            value_and_grad = jax.jit(value_and_grad)
        (_, (value, new)), (arg_grads, var_grads) = value_and_grad(
            arg_values, var_values
        )
        for variable, update in zip(updates, new):
            if update is not None:
                variable.assign(update)
        return value, list(arg_grads) + list(var_grads)
    raise NotImplementedError(
        f"gradients() supports the TensorFlow and JAX backends; the "
        f"current backend is {backend()!r}."
    )


def jit(fn, jit_compile=True):
    """`fn` compiled: `tf.function(fn, jit_compile=jit_compile)` on
    TensorFlow, `jax.jit` on JAX (always XLA; variables read inside are
    constants of the compiled function)."""
    if backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit_compile)
    if backend() == "jax":
        import jax

        return jax.jit(fn)
    raise NotImplementedError(f"no jit for backend {backend()!r}")


def jit_call(layer, *args, **kwargs):
    """`layer(*args, **kwargs)` compiled with XLA, assignments kept.

    TensorFlow: `tf.function(jit_compile=True)`. JAX: `jax.jit` of
    `layer.stateless_call`, whose new non-trainable values (moving
    statistics, seed states) are then assigned, as an eager call would.
    The layer must be built.
    """
    if backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda *a: layer(*a, **kwargs), jit_compile=True)(
            *args
        )
    if backend() == "jax":
        import jax

        def run(trainable, non_trainable, *a):
            return layer.stateless_call(trainable, non_trainable, *a, **kwargs)

        out, new = jax.jit(run)(
            [v.value for v in layer.trainable_variables],
            [v.value for v in layer.non_trainable_variables],
            *args,
        )
        for variable, value in zip(layer.non_trainable_variables, new):
            variable.assign(value)
        return out
    raise NotImplementedError(f"no jit for backend {backend()!r}")


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

    def use_float64(self):
        """Lets this test compute in float64 on every backend.

        JAX computes in 32 bits unless `jax_enable_x64` is set (float64
        arrays silently become float32); this sets it for the test only.
        TensorFlow needs nothing.
        """
        if backend() == "jax":
            import jax

            # The global flag, not the thread-local `jax.enable_x64`
            # context: Keras creates some arrays outside that context.
            previous = jax.config.jax_enable_x64
            jax.config.update("jax_enable_x64", True)
            self.addCleanup(jax.config.update, "jax_enable_x64", previous)

    def get_temp_dir(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
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
                `MirroredStrategy` (TensorFlow only: skipped on other
                backends, which have no `tf.distribute`).
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
        if run_distribute_check and backend() == "tensorflow":
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
            dtypes = [
                layer.compute_dtype
                if np.issubdtype(x.dtype, np.floating)
                else x.dtype
                for x in inputs_np
            ]
            if backend() == "jax":
                # JAX traces the call (`jax.eval_shape` behind a symbolic
                # call of fixed shapes) with the dtype rules it runs with:
                # the same output dtypes as an eager call, without
                # compiling every op once more per policy.
                xs = [
                    keras.Input(batch_shape=x.shape, dtype=dtype)
                    for x, dtype in zip(inputs_np, dtypes)
                ]
            else:
                xs = [ops.cast(x, d) for x, d in zip(inputs_np, dtypes)]
            out = call(layer, xs)
            for o in _flatten(out):
                if o is None or not (
                    ops.is_tensor(o) or isinstance(o, keras.KerasTensor)
                ):
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


@contextlib.contextmanager
def connection_attempts():
    """Fails every host-name lookup and TCP connection made inside; yields
    the list of the hosts and addresses tried, for a test that code stays
    offline: `[]` means it never reached for the network (whatever it did
    with the failures)."""
    attempts = []

    def resolve(host, *args, **kwargs):
        attempts.append(host)
        raise socket.gaierror(f"{host}: no lookups in this test")

    def refuse(sock, address):
        attempts.append(address)
        raise ConnectionRefusedError(f"{address}: refused by the test")

    with mock.patch.object(socket, "getaddrinfo", resolve):
        with mock.patch.object(socket.socket, "connect", refuse):
            yield attempts


def two_replica_strategy():
    """A `MirroredStrategy` over the 2 logical CPUs of `conftest.py`."""
    import tensorflow as tf

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
