"""Diagnostics recipes plot: per-layer gradient norms."""

import numpy as np
import tensorflow as tf


def kernel_gradient_norms(model, x, y, loss_fn):
    """L2 norm of d loss / d kernel for every layer that has a `kernel`.

    Returns a list of `(layer_name, norm)` in layer order: the lecture's
    "vanishing gradient" picture at initialisation.
    """
    kernels = [
        (layer.name, layer.kernel)
        for layer in model.layers
        if getattr(layer, "kernel", None) is not None
    ]
    if not kernels:
        raise ValueError(f"Model {model.name!r} has no layer with a kernel.")
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, [k for _, k in kernels])
    return [
        (name, float(np.linalg.norm(np.asarray(g))))
        for (name, _), g in zip(kernels, grads)
    ]
