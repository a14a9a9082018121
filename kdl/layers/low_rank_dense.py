"""A dense layer with a factorised (low-rank) kernel W = U V."""

import keras
import numpy as np
from keras import ops

from kdl import _validation


@keras.saving.register_keras_serializable(package="kdl")
class LowRankDense(keras.layers.Layer):
    """Dense layer whose kernel is the product of two thin matrices.

    `y = activation((x U) V + b)` with `U` of shape `(input_dim, rank)` and
    `V` of shape `(rank, units)`: `rank * (input_dim + units)` kernel
    weights instead of `input_dim * units`, and fewer multiply-adds when
    `rank < input_dim * units / (input_dim + units)`. Applies to the last
    axis, like `keras.layers.Dense`. `from_dense` compresses a trained
    `Dense` layer by truncated SVD (the best rank-r approximation in
    Frobenius norm, Eckart-Young).

    Args:
        units: output size, positive int.
        rank: inner size of the factorisation, positive int.
        activation: Keras activation (default: none).
        use_bias: add a bias `b`.
        u_initializer, v_initializer, bias_initializer: initializers
            (`U`, `V` default to Glorot uniform).
        u_regularizer, v_regularizer, bias_regularizer: regularizers.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `(..., input_dim)`.

    Returns:
        `(..., units)` in the compute dtype; no masking (masks pass
        through, as for `Dense`). Training and inference are the same.

    Example:

    ```python
    layer = kdl.layers.LowRankDense(120, rank=16, activation="relu")
    y = layer(np.zeros((8, 400), "float32"))       # (8, 120)
    small = kdl.layers.LowRankDense.from_dense(trained_dense, rank=16)
    ```

    Reference:
        Denil, Shakibi, Dinh, Ranzato, de Freitas, "Predicting Parameters
        in Deep Learning", NIPS 2013; Sainath et al., "Low-rank matrix
        factorization for deep neural network training with
        high-dimensional output targets", ICASSP 2013.
    """

    def __init__(
        self,
        units,
        rank,
        activation=None,
        use_bias=True,
        u_initializer="glorot_uniform",
        v_initializer="glorot_uniform",
        bias_initializer="zeros",
        u_regularizer=None,
        v_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.positive_integer("units", units)
        self.rank = _validation.positive_integer("rank", rank)
        self.activation = keras.activations.get(activation)
        self.use_bias = _validation.boolean("use_bias", use_bias)
        self.u_initializer = keras.initializers.get(u_initializer)
        self.v_initializer = keras.initializers.get(v_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.u_regularizer = keras.regularizers.get(u_regularizer)
        self.v_regularizer = keras.regularizers.get(v_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.supports_masking = True
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                "The last axis of the input of LowRankDense must be known. "
                f"Received: input_shape={input_shape}"
            )
        self.u = self.add_weight(
            name="u",
            shape=(int(input_dim), self.rank),
            initializer=self.u_initializer,
            regularizer=self.u_regularizer,
        )
        self.v = self.add_weight(
            name="v",
            shape=(self.rank, self.units),
            initializer=self.v_initializer,
            regularizer=self.v_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
        else:
            self.bias = None
        self.input_spec = keras.layers.InputSpec(
            min_ndim=2, axes={-1: int(input_dim)}
        )
        self.built = True

    @property
    def kernel(self):
        """The full kernel `U V`, shape `(input_dim, units)`."""
        return ops.matmul(self.u, self.v)

    def call(self, inputs):
        x = ops.matmul(ops.matmul(inputs, self.u), self.v)
        if self.use_bias:
            x = ops.add(x, self.bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    @classmethod
    def from_dense(cls, dense, rank, **kwargs):
        """A built `LowRankDense` holding the rank-`rank` SVD of a `Dense`.

        `U = A_r sqrt(S_r)`, `V = sqrt(S_r) B_r` from `kernel = A S B`; the
        bias and activation are copied. `rank` may not exceed
        `min(input_dim, units)`.
        """
        kernel = np.asarray(ops.convert_to_numpy(dense.kernel), "float64")
        rank = int(rank)
        if not 1 <= rank <= min(kernel.shape):
            raise ValueError(
                f"`rank` must be in [1, {min(kernel.shape)}] for a kernel of "
                f"shape {kernel.shape}. Received: rank={rank}"
            )
        a, s, b = np.linalg.svd(kernel, full_matrices=False)
        root = np.sqrt(s[:rank])
        config = dict(
            units=kernel.shape[1],
            rank=rank,
            activation=dense.activation,
            use_bias=dense.use_bias,
        )
        config.update(kwargs)
        layer = cls(**config)
        layer.build((None, kernel.shape[0]))
        weights = [a[:, :rank] * root, root[:, None] * b[:rank]]
        if dense.use_bias:
            weights.append(ops.convert_to_numpy(dense.bias))
        layer.set_weights([np.asarray(w, "float32") for w in weights])
        return layer

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "rank": self.rank,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "u_initializer": keras.initializers.serialize(self.u_initializer),
            "v_initializer": keras.initializers.serialize(self.v_initializer),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
            "u_regularizer": keras.regularizers.serialize(self.u_regularizer),
            "v_regularizer": keras.regularizers.serialize(self.v_regularizer),
            "bias_regularizer": keras.regularizers.serialize(
                self.bias_regularizer
            ),
        }
