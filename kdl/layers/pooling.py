"""Pooling layers of the lecture that Keras lacks: Lp, stochastic, fractional.

`LpPooling2D` and `StochasticPooling2D` use only `keras.ops`.
`FractionalMaxPooling2D` calls TensorFlow's `FractionalMaxPool` op
(`tf.raw_ops.FractionalMaxPool`): there is no `keras.ops` form of
fractional max pooling, so that layer needs the TensorFlow backend.
"""

import keras
import tensorflow as tf
from keras import ops


def _pair(value, name):
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(
            f"`{name}` must be a positive int or a pair of positive ints. "
            f"Received: {name}={value}"
        )
    return value


def _padding(padding):
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(
            "`padding` must be 'valid' or 'same'. "
            f"Received: padding={padding!r}"
        )
    return padding


def _pooled_size(size, window, stride, padding):
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    return (size - window) // stride + 1


def _float32(x):
    return ops.cast(x, keras.backend.result_type(x.dtype, "float32"))


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
        if not float(p) >= 1.0:
            raise ValueError(f"`p` must be >= 1. Received: p={p}")
        if float(epsilon) < 0:
            raise ValueError(
                f"`epsilon` must be >= 0. Received: epsilon={epsilon}"
            )
        self.p = float(p)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(
            self.pool_size if strides is None else strides, "strides"
        )
        self.padding = _padding(padding)
        self.normalize = bool(normalize)
        self.epsilon = float(epsilon)
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
            _pooled_size(h, self.pool_size[0], self.strides[0], self.padding),
            _pooled_size(w, self.pool_size[1], self.strides[1], self.padding),
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
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(
            self.pool_size if strides is None else strides, "strides"
        )
        self.padding = _padding(padding)
        self.seed = None if seed is None else int(seed)
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
            _pooled_size(h, self.pool_size[0], self.strides[0], self.padding),
            _pooled_size(w, self.pool_size[1], self.strides[1], self.padding),
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


@keras.saving.register_keras_serializable(package="kdl")
class FractionalMaxPooling2D(keras.layers.Layer):
    """Fractional max pooling: shrink by a non-integer ratio (e.g. sqrt 2).

    The rows (and columns) are cut into `floor(size / ratio)` pooling
    intervals whose lengths are a random mix of `floor(ratio)` and
    `ceil(ratio)`; each output is the max over one row interval x one
    column interval. `pseudo_random=True` draws the cuts as
    `ceil(ratio * (i + u))` for one `u`, else as a random permutation of
    the interval lengths; `overlapping=True` lets neighbouring windows
    share their border pixel.

    - Training: new random intervals at every call (Graham's "random
      pooling regions", a regulariser).
    - Inference: fixed intervals, determined by `seed`, so predictions are
      reproducible (the paper also averages several random draws at test
      time; call the layer with `training=True` to do that).

    Implementation: TensorFlow's `FractionalMaxPool` op
    (`tf.raw_ops.FractionalMaxPool`), which has no `keras.ops` form, so this
    layer needs the TensorFlow backend, and the op cannot be compiled by
    XLA (do not use `jit_compile=True`). The op supports float32/float64
    only: half-precision inputs are computed in float32 and cast back.

    Args:
        pooling_ratio: float or pair of floats >= 1 (rows, columns).
        pseudo_random: pseudo-random instead of random interval sequences.
        overlapping: windows share their boundary pixels.
        seed: int seed of the fixed inference intervals, >= 1 (training
            draws are random and not seeded: the op allows no seed there).
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)`.
        training: random (True) or fixed (False) pooling intervals.

    Returns:
        `(batch, floor(height / r0), floor(width / r1), channels)` in the
        compute dtype. No masking.

    Example:

    ```python
    x = keras.Input((28, 28, 16))
    y = kdl.layers.FractionalMaxPooling2D(1.414)(x)  # (None, 19, 19, 16)
    ```

    Reference:
        Graham, "Fractional Max-Pooling", arXiv:1412.6071, 2014.
    """

    def __init__(
        self,
        pooling_ratio=1.414,
        pseudo_random=True,
        overlapping=True,
        seed=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(pooling_ratio, (int, float)):
            pooling_ratio = (pooling_ratio, pooling_ratio)
        pooling_ratio = tuple(float(r) for r in pooling_ratio)
        if len(pooling_ratio) != 2 or min(pooling_ratio) < 1.0:
            raise ValueError(
                "`pooling_ratio` must be a float >= 1 or a pair of them. "
                f"Received: pooling_ratio={pooling_ratio}"
            )
        if int(seed) < 1:
            raise ValueError(f"`seed` must be >= 1. Received: seed={seed}")
        self.pooling_ratio = pooling_ratio
        self.pseudo_random = bool(pseudo_random)
        self.overlapping = bool(overlapping)
        self.seed = int(seed)
        self.input_spec = keras.layers.InputSpec(ndim=4)
        # No XLA kernel: `jit_compile="auto"` then compiles without XLA.
        self.supports_jit = False

    def build(self, input_shape):
        self.built = True

    def pool(self, inputs, training=False):
        """Returns `(outputs, row_sequence, col_sequence)` (the intervals)."""
        x = tf.convert_to_tensor(inputs)
        x32 = tf.cast(x, tf.float32) if x.dtype != tf.float64 else x
        out, rows, cols = tf.raw_ops.FractionalMaxPool(
            value=x32,
            pooling_ratio=[1.0, *self.pooling_ratio, 1.0],
            pseudo_random=self.pseudo_random,
            overlapping=self.overlapping,
            deterministic=not training,
            # The op requires seed = seed2 = 0 for random (training) draws.
            seed=0 if training else self.seed,
            seed2=0 if training else self.seed,
        )
        return out, rows, cols

    def call(self, inputs, training=None):
        out, _, _ = self.pool(inputs, training=bool(training))
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        h = None if h is None else int(h / self.pooling_ratio[0])
        w = None if w is None else int(w / self.pooling_ratio[1])
        return (b, h, w, c)

    def get_config(self):
        return {
            **super().get_config(),
            "pooling_ratio": self.pooling_ratio,
            "pseudo_random": self.pseudo_random,
            "overlapping": self.overlapping,
            "seed": self.seed,
        }
