"""Codes for given images, found by optimisation with the generator fixed."""

import keras
import numpy as np
from keras import ops

from kdl import _validation


def search_codes(
    generator,
    images,
    start_codes,
    steps=200,
    learning_rate=0.05,
    batch_size=256,
    loss="mse",
    constraint=None,
):
    """`argmin_z loss(generator(z), image)` per image, by Adam on `z`.

    The generator runs in inference mode and is not changed. Each batch of
    images starts from its rows of `start_codes`, takes `steps` Adam steps
    (fresh moments per batch) on the mean loss and, with a `constraint`,
    is projected after every step (Keras applies a variable's constraint
    after each optimizer step). This is how GLO encodes held-out images
    (`GLO.encode`) and how the GLO paper compares a GAN's generator with
    GLO's on held-out reconstructions (`DCGAN.encode`).

    TensorFlow only (a `tf.function` loop of `tf.GradientTape` steps).

    Args:
        generator: a Keras model from `(batch, latent_dim)` codes to
            images.
        images: `(n, H, W[, C])` float images, like the generator's
            outputs (a missing channel axis is added).
        start_codes: `(n, latent_dim)` initial codes.
        steps: optimisation steps per batch (>= 1).
        learning_rate: Adam's learning rate (> 0).
        batch_size: images optimised together (>= 1).
        loss: the loss to minimise (a Keras loss or its name).
        constraint: a `keras.constraints.Constraint` for the codes (e.g.
            `kdl.constraints.UnitBallRows()`), or None.

    Returns:
        A float32 `(n, latent_dim)` array of codes.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise NotImplementedError(
            "search_codes needs the TensorFlow backend (a tf.function loop "
            f"of GradientTape steps). Received: backend={backend!r}"
        )
    import tensorflow as tf

    steps = _validation.positive_integer("steps", steps)
    learning_rate = _validation.positive_number("learning_rate", learning_rate)
    batch_size = _validation.positive_integer("batch_size", batch_size)
    images = np.asarray(images, dtype="float32")
    if images.ndim == len(generator.output_shape) - 1:
        images = images[..., None]
    if not len(images):
        raise ValueError(
            "`images` must hold at least one image. Received: "
            f"images.shape={images.shape}"
        )
    start_codes = np.asarray(start_codes, dtype="float32")
    latent_dim = generator.input_shape[-1]
    if start_codes.shape != (len(images), latent_dim):
        raise ValueError(
            "`start_codes` must have one row of size latent_dim="
            f"{latent_dim} per image ({len(images)}). Received: "
            f"start_codes.shape={start_codes.shape}"
        )
    loss_fn = keras.losses.get(loss)
    n = len(images)
    batch = min(batch_size, n)
    codes_var = keras.Variable(
        np.zeros((batch, latent_dim), "float32"), name="searched_codes"
    )
    # Set after creation: `keras.Variable(constraint=...)` ignores it.
    codes_var.constraint = constraint
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([codes_var])

    @tf.function
    def run(target, count):
        for _ in tf.range(count):
            with tf.GradientTape() as tape:
                pred = generator(codes_var, training=False)
                value = ops.mean(loss_fn(target, pred))
            grad = tape.gradient(value, [codes_var])
            optimizer.apply(grad, [codes_var])

    result = np.zeros((n, latent_dim), "float32")
    for start in range(0, n, batch):
        chunk = images[start : start + batch]
        first = start_codes[start : start + batch]
        size = len(chunk)
        if size < batch:  # pad with repeats; padded rows are dropped
            pad = np.arange(batch - size) % size
            chunk = np.concatenate([chunk, chunk[pad]])
            first = np.concatenate([first, first[pad]])
        if constraint is not None:
            first = ops.convert_to_numpy(constraint(first))
        codes_var.assign(first)
        for variable in optimizer.variables:  # fresh moments and steps
            if "learning_rate" not in variable.name:
                variable.assign(ops.zeros_like(variable))
        run(tf.constant(chunk), tf.constant(int(steps)))
        codes = ops.convert_to_numpy(codes_var)
        result[start : start + size] = codes[:size]
    return result
