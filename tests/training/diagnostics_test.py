"""kdl.training.diagnostics: per-layer gradient norms."""

import keras
import numpy as np
import tensorflow as tf

from kdl import training


def test_kernel_gradient_norms():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)]
    )
    x = np.random.RandomState(0).normal(size=(8, 4)).astype("float32")
    y = np.zeros((8,), "int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    norms = training.kernel_gradient_norms(model, x, y, loss)
    assert [n for n, _ in norms] == [layer.name for layer in model.layers]
    with tf.GradientTape() as tape:
        value = loss(y, model(x))
    expected = tape.gradient(value, model.layers[0].kernel)
    np.testing.assert_allclose(norms[0][1], np.linalg.norm(expected), 1e-5)
