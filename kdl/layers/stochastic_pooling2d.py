"""Stochastic pooling (Zeiler & Fergus 2013), a 2-D pooling layer Keras lacks.

Uses only `keras.ops`.
"""

import keras
from keras import ops

from kdl import _validation
from kdl.layers import _pooling


@keras.saving.register_keras_serializable(package="kdl")
class StochasticPooling2D(keras.layers.Layer):
    """Stochastic pooling: sample one activation per window by its size.

    In each pooling window with non-negative activations `a_i` (e.g. after
    a ReLU), `p_i = a_i / sum_j a_j`.

    - Training: the output is `a_k` with `k ~ Multinomial(p)` (a fresh
      draw per window, example and channel); the gradient flows to the
      chosen activation only, as in max pooling.
    - Inference: the probability-weighted average `sum_i p_i a_i =
      sum_i a_i^2 / sum_i a_i`.

    A window of zeros gives 0. Negative inputs are treated as 0 (the
    method assumes non-negative activations). Computed in float32.

    Args:
        pool_size: int or pair, the window.
        strides: int or pair (default: `pool_size`).
        padding: `"valid"` or `"same"` (zero padding: never sampled).
        seed: optional int seed of the sampling.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)`, non-negative.
        training: sample (True) or take the weighted average (False).

    Returns:
        `(batch, new_height, new_width, channels)` in the compute dtype.
        No masking.

    Example:

    ```python
    x = keras.layers.Conv2D(32, 5, activation="relu")(keras.Input((28, 28, 1)))
    y = kdl.layers.StochasticPooling2D(pool_size=2)(x)
    ```

    Reference:
        Zeiler, Fergus, "Stochastic Pooling for Regularization of Deep
        Convolutional Neural Networks", ICLR 2013 (arXiv:1301.3557).
    """

    def __init__(
        self, pool_size=2, strides=None, padding="valid", seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.pool_size = _validation.integer_tuple("pool_size", pool_size, 2)
        self.strides = _validation.integer_tuple(
            "strides", self.pool_size if strides is None else strides, 2
        )
        self.padding = _validation.one_of(
            "padding", padding, ("valid", "same"), lower=True
        )
        self.seed = _validation.integer("seed", seed, allow_none=True)

        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        self.built = True

    def _windows(self, x):
        """(B, H', W', K, C) windows, K = pool height * pool width."""
        channels = x.shape[-1]
        patches = ops.image.extract_patches(
            x,
            size=self.pool_size,
            strides=self.strides,
            padding=self.padding,
            data_format="channels_last",
        )
        shape = ops.shape(patches)
        k = self.pool_size[0] * self.pool_size[1]
        return ops.reshape(patches, (shape[0], shape[1], shape[2], k, channels))

    def call(self, inputs, training=None):
        x = ops.relu(ops.cast(inputs, "float32"))
        windows = self._windows(x)
        total = ops.sum(windows, axis=3, keepdims=True)
        safe = ops.where(total > 0, total, ops.ones_like(total))
        probs = windows / safe
        if training:
            k = windows.shape[3]
            cdf = ops.cumsum(probs, axis=3)
            u = keras.random.uniform(
                ops.shape(total), seed=self.seed_generator, dtype="float32"
            )
            index = ops.sum(ops.cast(cdf < u * cdf[:, :, :, -1:], "int32"), 3)
            index = ops.minimum(index, k - 1)
            chosen = ops.one_hot(index, k, axis=3, dtype="float32")
            out = ops.sum(chosen * windows, axis=3)
        else:
            out = ops.sum(probs * windows, axis=3)
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (
            b,
            _pooling.pooled_size(
                h, self.pool_size[0], self.strides[0], self.padding
            ),
            _pooling.pooled_size(
                w, self.pool_size[1], self.strides[1], self.padding
            ),
            c,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            "seed": self.seed,
        }
