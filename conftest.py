"""Test setup: 2 logical CPUs before TF starts, seeds, dtype policy reset."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0],
        [tf.config.LogicalDeviceConfiguration()] * 2,
    )
except RuntimeError:  # TF was initialised already (e.g. by a plugin).
    pass


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long tests; deselect with -m 'not slow'"
    )


# The one place that seeds and resets the dtype policy: an autouse fixture
# reaches every test, the `tests.test_case.TestCase` classes and the recipes'
# plain pytest functions alike, so neither repeats it.
@pytest.fixture(autouse=True)
def _seed_and_reset_policy():
    keras.utils.set_random_seed(1337)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()
