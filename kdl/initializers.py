"""Initializers that Keras lacks."""

import math

import keras

from kdl import _validation


@keras.saving.register_keras_serializable(package="kdl")
class FanInUniform(keras.initializers.Initializer):
    """The lecture's fan-in rule: W ~ U[-1/sqrt(n_in), 1/sqrt(n_in)].

    `n_in` is the fan-in of the weight: for a `Dense` kernel of shape
    `(n_in, n_out)` it is `n_in`; for a convolution kernel of shape
    `(*spatial, in_channels, out_channels)` it is
    `prod(spatial) * in_channels`. Compare `keras.initializers.GlorotUniform`,
    the "normalised" rule U[+-sqrt(6 / (n_in + n_out))].

    Args:
        scale: multiplies the bound (default 1.0).
        seed: int or `keras.random.SeedGenerator`, for reproducible draws.

    Example:

    >>> layer = keras.layers.Dense(3, kernel_initializer=FanInUniform())

    Reference: LeCun, Bottou, Orr, Mueller 1998, "Efficient BackProp".
    """

    def __init__(self, scale=1.0, seed=None):
        self.scale = _validation.positive_number("scale", scale)

        self.seed = seed
        self._seed_generator = (
            seed
            if isinstance(seed, keras.random.SeedGenerator)
            else keras.random.SeedGenerator(seed)
        )

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 1:
            raise ValueError(
                "FanInUniform needs a weight of rank >= 1. "
                f"Received: shape={shape}"
            )
        if len(shape) == 1:
            fan_in = shape[0]
        else:
            fan_in = math.prod(shape[:-1])
        bound = self.scale / math.sqrt(max(1, fan_in))
        return keras.random.uniform(
            shape,
            minval=-bound,
            maxval=bound,
            dtype=dtype,
            seed=self._seed_generator,
        )

    def get_config(self):
        seed = self.seed
        if isinstance(seed, keras.random.SeedGenerator):
            seed = None
        return {"scale": self.scale, "seed": seed}
