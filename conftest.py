"""Test setup: 2 logical CPUs before TF starts, seeds, dtype policy reset.

This file runs in every process that runs tests: the only one by default,
or each pytest-xdist worker under `-n 3` / `-n 2` (workers are fresh
interpreters that import it before collecting any test), so each configures
its own devices. Under `-n` the pytest process that starts the workers runs no
test and does not import Keras or TensorFlow at all.
"""

import gc
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests that start Python processes of their own (recipes from the command
# line, loopback workers, a chief and its tuner workers) import kdl from
# this checkout, whether or not it is pip-installed.
_ROOT = os.path.dirname(os.path.abspath(__file__))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]
)
if os.environ.get("KERAS_BACKEND") == "jax":
    # JAX compiles every eager op and every jitted step of a test as its own
    # small XLA program, so the JAX pass spends its time in the compiler;
    # LLVM's optimisation passes cost more than they save at test sizes
    # (tests/models/seq2seq_test.py: 123 CPU s with them, 78 without).
    _flags = (
        "--xla_backend_optimization_level=0 "
        "--xla_llvm_disable_expensive_passes=true"
    )
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one thread: see below
        _flags += (
            " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
    os.environ.setdefault("XLA_FLAGS", _flags)

import pytest  # noqa: E402


def _jax_cache_dir(controller_pid):
    """The run's JAX compilation cache, named by the pytest process."""
    return os.path.join(tempfile.gettempdir(), f"kdl-jax-{controller_pid}")


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):  # not an xdist worker
        shutil.rmtree(_jax_cache_dir(os.getpid()), ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # A JAX worker's last act would be JAX's exit handler freeing every
    # executable it compiled (~2,000, one by one) and the interpreter's
    # teardown: 8-10 s of wall time at the end of the pass, in a process
    # whose results are already with the pytest process (xdist sends them
    # at `pytest_sessionfinish`, and has marked the worker done). It ends
    # here instead, with its output flushed.
    if (
        hasattr(config, "workerinput")
        and os.environ.get("KERAS_BACKEND") == "jax"
    ):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _distributes(config):
    """Whether this process hands the tests to pytest-xdist workers (`-n`)
    and so runs none itself."""
    return (
        not hasattr(config, "workerinput")
        and config.getoption("dist", "no") != "no"
        and bool(config.getoption("tx", None))
        and not config.getoption("collectonly")
    )


# The tf.distribute tests run a MirroredStrategy over 2 logical CPUs
# (`tests.test_case.two_replica_strategy`). Devices can only be split before
# TensorFlow initialises its runtime: here, before any test module (which
# imports TensorFlow) is collected.
LOGICAL_CPUS = 2


def _set_up_backend():
    import keras
    import tensorflow as tf

    if keras.backend.backend() == "jax" and os.environ.get(
        "PYTEST_XDIST_WORKER"
    ):
        # Tracing and lowering ~4,000 programs allocates Python objects at
        # a high rate, and with JAX's and Keras's caches ~1M objects are
        # alive, which every full collection walks. Over tests/layers one
        # worker spent 4.7 CPU s collecting at the default thresholds
        # (13 full collections) and 2.1 s with these (9).
        gc.set_threshold(50_000, 20, 10)
        # The two xdist workers compile many of the same small programs (the
        # same ops on the same shapes): one compilation cache on disk for
        # the run lets each reuse what the other compiled (tests/models on
        # JAX, -n 2: 209 s instead of 223 s). The pytest process that
        # started the workers removes it at the end (`pytest_sessionfinish`).
        import jax

        cache = _jax_cache_dir(os.getppid())
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

    # Under `-n` the worker processes share the 2 cores: one intra-op
    # thread each (TensorFlow's, and XLA's on JAX above) instead of a pool
    # per process as wide as the machine keeps them from contending for the
    # cores. Measured on the idle machine, tests/models with `-n 2`:
    # TensorFlow 151 s wall instead of 182 s, JAX 223 s instead of 237 s.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        tf.config.threading.set_intra_op_parallelism_threads(1)

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0],
            [tf.config.LogicalDeviceConfiguration()] * LOGICAL_CPUS,
        )
        error = None
    except RuntimeError as e:  # TF was initialised already (e.g. a plugin).
        error = e
    # Fail at once rather than skip the distributed checks one by one.
    found = len(tf.config.list_logical_devices("CPU"))
    if found < LOGICAL_CPUS:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main process")
        raise pytest.UsageError(
            f"conftest.py could not split the CPU into {LOGICAL_CPUS} "
            f"logical devices in {worker} (found {found}): TensorFlow was "
            f"initialised before it ran ({error})."
        )


# XLA's CPU compiler allocates and frees memory at a high rate: it builds
# and tears down MLIR contexts and LLVM modules for every program, and the
# JAX pass compiles ~4,000 programs. In a profile of the pass, glibc's
# malloc and free took ~14 % of its CPU and the kernel zeroing the pages
# they returned and took again ~5 %. jemalloc, which `scripts/setup.sh`
# installs, does the same work for less. Measured on this 2-core machine,
# one worker each, with and without it run side by side: the JAX pass
# took 452 CPU s instead of 516; tests/layers and tests/models on
# TensorFlow (graph tracing, tf.function) 412 instead of 444. The workers
# are new processes, so the process that starts them preloads it for
# them, and for the processes some tests start in turn.
def _preload_jemalloc_for_workers():
    if os.environ.get("LD_PRELOAD") or os.environ.get("KDL_TEST_MALLOC"):
        return  # the user chose (KDL_TEST_MALLOC=system keeps glibc)
    import ctypes.util

    jemalloc = ctypes.util.find_library("jemalloc")  # e.g. libjemalloc.so.2
    if jemalloc:  # the dynamic loader finds it by name, as for a dependency
        os.environ["LD_PRELOAD"] = jemalloc


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long tests; deselect with -m 'not slow'"
    )
    # The process that only hands tests to the xdist workers does not
    # import Keras and TensorFlow (~7 s before the workers could start).
    if not _distributes(config):
        _set_up_backend()
    else:
        _preload_jemalloc_for_workers()


# Long tests (whole recipes, several processes) go first. Under
# `-n 2 --dist=worksteal` a worker that runs out of tests takes half of the
# other's pending ones, but never a test already running: with the long
# ones started early, the last minute is short tests on both cores.
LONG_FIRST = (
    "tests/recipes/",
    "tests/training/distributed_tuning_test.py",
    "tests/training/multi_worker_test.py",
    "tests/training/distribute_test.py",
    "tests/layers/replica_consistency_test.py",
)


def pytest_collection_modifyitems(config, items):
    def long_first(item):
        long = item.nodeid.startswith(LONG_FIRST)
        return 0 if long or item.get_closest_marker("slow") else 1

    items.sort(key=long_first)  # stable: file order within each group


# The one place that seeds and resets the dtype policy: an autouse fixture
# reaches every test, the `tests.test_case.TestCase` classes and the recipes'
# plain pytest functions alike, so neither repeats it.
@pytest.fixture(autouse=True)
def _seed_and_reset_policy():
    import keras

    keras.utils.set_random_seed(1337)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
    # Without a full garbage collection after every test: in a worker that
    # holds TensorFlow and ~500K Python objects one `gc.collect()` takes
    # 0.4-0.7 s; tests/layers took 191 CPU s with it, 132 without. Python's
    # own generational collector still frees the cycles.
    keras.backend.clear_session(free_memory=False)
