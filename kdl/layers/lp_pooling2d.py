"""Lp pooling (Sermanet et al. 2012), a 2-D pooling layer Keras lacks.

Uses only `keras.ops`.
"""

import keras
from keras import ops

from kdl import _validation
from kdl.layers import _pooling


@keras.saving.register_keras_serializable(package="kdl")
class LpPooling2D(keras.layers.Layer):
    """Lp pooling: `y = (sum_{i in window} |x_i|^p)^(1/p)` per channel.

    p = 1 gives sum pooling of |x| (average pooling times the window size),
    p = 2 the l2 norm of each window ("square-root pooling"), and p -> inf
    tends to max pooling of |x|. With `normalize=True` the sum is replaced
    by the mean, `y = (mean |x_i|^p)^(1/p)`, which is the average pooling
    of |x| at p = 1 and stays on the scale of the inputs for every p.
    With `padding="same"` the zero padding contributes nothing to the sum
    (and, with `normalize=True`, the mean is over the whole window).
    Computed in float32 (also under mixed precision) as a depthwise
    convolution of `|x|^p` with a window of ones.

    Args:
        p: the exponent, a float >= 1.
        pool_size: int or pair, the window.
        strides: int or pair (default: `pool_size`).
        padding: `"valid"` or `"same"`.
        normalize: average instead of sum inside the root.
        epsilon: small constant under the root (finite gradients at 0).
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)` (channels last).

    Returns:
        `(batch, new_height, new_width, channels)` in the compute dtype.
        Training and inference behave the same; no masking.

    Example:

    ```python
    x = keras.Input((28, 28, 6))
    y = kdl.layers.LpPooling2D(p=2, pool_size=2)(x)  # (None, 14, 14, 6)
    ```

    Reference:
        Sermanet, Chintala, LeCun, "Convolutional Neural Networks Applied
        to House Numbers Digit Classification", ICPR 2012.
    """

    def __init__(
        self,
        p=2.0,
        pool_size=2,
        strides=None,
        padding="valid",
        normalize=False,
        epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.p = _validation.number("p", p, min_value=1)
        self.pool_size = _validation.integer_tuple("pool_size", pool_size, 2)
        self.strides = _validation.integer_tuple(
            "strides", self.pool_size if strides is None else strides, 2
        )
        self.padding = _validation.one_of(
            "padding", padding, ("valid", "same"), lower=True
        )
        self.normalize = _validation.boolean("normalize", normalize)
        self.epsilon = _validation.non_negative_number("epsilon", epsilon)

        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        channels = x.shape[-1]
        kernel = ops.ones(self.pool_size + (channels, 1), dtype="float32")
        powered = ops.power(ops.abs(x), self.p)
        total = ops.depthwise_conv(
            powered, kernel, strides=self.strides, padding=self.padding
        )
        if self.normalize:
            total = total / float(self.pool_size[0] * self.pool_size[1])
        out = ops.power(total + self.epsilon, 1.0 / self.p)
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
            "p": self.p,
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            "normalize": self.normalize,
            "epsilon": self.epsilon,
        }
