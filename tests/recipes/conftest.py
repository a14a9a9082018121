"""Fixtures of the recipe tests."""

import pytest
import tensorflow as tf


@pytest.fixture
def eager_fits():
    """Runs every `tf.function` eagerly (Keras's train step included).

    For a smoke run of many arms of a few steps each, most of the time is
    tracing: the batchnorm smoke test took 54 CPU s traced, 25 eager. A
    recipe with many steps per arm (perceptron, bn_lstm) is slower
    eagerly: this is opt-in. The command-line runs (cli_test) stay traced.
    """
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)
