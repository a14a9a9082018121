"""Fractional max pooling (Graham 2014), a 2-D pooling layer Keras lacks.

Calls TensorFlow's `FractionalMaxPool` op (`tf.raw_ops.FractionalMaxPool`):
there is no `keras.ops` form of fractional max pooling, so this layer needs
the TensorFlow backend (on another backend, constructing it raises a
`NotImplementedError` that names the backend).
"""

import keras
from keras import ops

from kdl import _validation


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
    layer needs the TensorFlow backend (on another backend the constructor
    raises `NotImplementedError`), and the op cannot be compiled by
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
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError(
                "FractionalMaxPooling2D needs the TensorFlow backend "
                "(tf.nn.fractional_max_pool); the current backend is "
                f"{keras.backend.backend()!r}."
            )
        super().__init__(**kwargs)
        self.pooling_ratio = _validation.number_tuple(
            "pooling_ratio", pooling_ratio, 2, min_value=1
        )
        self.pseudo_random = _validation.boolean("pseudo_random", pseudo_random)
        self.overlapping = _validation.boolean("overlapping", overlapping)
        self.seed = _validation.positive_integer("seed", seed)

        self.input_spec = keras.layers.InputSpec(ndim=4)
        # No XLA kernel: `jit_compile="auto"` then compiles without XLA.
        self.supports_jit = False

    def build(self, input_shape):
        self.built = True

    def pool(self, inputs, training=False):
        """Returns `(outputs, row_sequence, col_sequence)` (the intervals)."""
        import tensorflow as tf

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
