"""Ghost batch normalization (Hoffer, Hubara & Soudry 2017)."""

import keras
from keras import ops

from kdl import _validation
from kdl.layers._batch_norm_base import BatchNormBase
from kdl.layers._batch_norm_base import replica_sum


@keras.saving.register_keras_serializable(package="kdl")
class GhostBatchNormalization(BatchNormBase):
    """Batch normalization with statistics per small "ghost" batch.

    **Training**: the batch (axis 0) is cut into consecutive virtual
    batches of `virtual_batch_size` examples, and each is normalized with
    its own mean and (biased) variance, computed over its examples and all
    other non-feature axes:
    `gamma * (x - mean_g) / sqrt(var_g + epsilon) + beta`. This is vectorised:
    per-example sums are grouped into ghost batches by one reshape, with no
    Python loop over ghost batches.

    A batch whose size is not a multiple of `virtual_batch_size` is
    accepted, not an error (the last batch of an epoch rarely is one): its
    last ghost batch holds the remaining `batch % v` examples and is
    normalized with their own statistics, e.g. `virtual_batch_size=3` on a
    batch of 8 gives ghost batches of 3, 3 and 2 examples, and a batch
    smaller than `virtual_batch_size` is one ghost batch. A last ghost batch
    of one example gives `beta`, as batch norm does on a batch of one. Its
    examples weigh in the moving statistics by their count.

    The moving statistics are updated once per call from the ghost
    batches, like Hoffer et al.'s running averages of the ghost statistics:
    `moving_mean` with the batch mean (the count-weighted mean of the ghost
    means) and `moving_variance` with the count-weighted mean of the ghost
    variances: `moving = moving * momentum + batch * (1 - momentum)`.

    **Inference** uses only the moving statistics, so each example's output
    is independent of the rest of the batch (an old tf.keras bug applied
    ghost batches at inference too; kdl tests that it does not).

    With `virtual_batch_size` equal to the batch size this is exactly
    `keras.layers.BatchNormalization`.

    Args:
        virtual_batch_size: positive int, examples per ghost batch (the
            paper uses 32 to 128).
        axis: int, the feature axis (not the batch axis 0). Default -1.
        momentum: float in [0, 1], momentum of the moving statistics.
        epsilon: positive float added to the variance.
        center: bool, add the learned offset `beta`.
        scale: bool, multiply by the learned `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: initializers.
        beta_regularizer, gamma_regularizer: optional regularizers.
        beta_constraint, gamma_constraint: optional constraints.
        synchronized: bool. Ghost batches never straddle replicas (each
            replica's batch is cut by itself), so the normalization is the
            same either way; with `True` the moving-statistics update is
            summed over the replicas of a `tf.distribute` strategy, so it
            equals the single-replica update on the global batch (with
            `False` each replica keeps its own moving statistics, as in
            Keras). Uses the TF replica context's `all_reduce`: no
            `keras.ops` form exists.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of rank >= 2, batch first.
        training: bool, ghost-batch statistics (True) or moving statistics.
        mask: optional boolean tensor with the shape of `inputs` without the
            feature axis; `False` positions are left out of the statistics
            (they are still normalized).

    Returns:
        A tensor of the shape of `inputs`, in the layer's compute dtype.
        Statistics are computed in float32 under mixed precision.

    Example:

    >>> layer = GhostBatchNormalization(virtual_batch_size=32)
    >>> y = layer(np.random.rand(128, 10).astype("float32"), training=True)
    >>> y.shape
    TensorShape([128, 10])

    Reference:
        Hoffer, Hubara & Soudry, "Train longer, generalize better: closing
        the generalization gap in large batch training of neural networks",
        NeurIPS 2017, https://arxiv.org/abs/1705.08741 (Algorithm 1).
    """

    def __init__(self, virtual_batch_size, axis=-1, **kwargs):
        self.virtual_batch_size = _validation.positive_integer(
            "virtual_batch_size", virtual_batch_size
        )
        super().__init__(axis=axis, **kwargs)

    def _min_axis(self):
        return 1

    def build_statistics(self, shape):
        self.moving_mean = self._stat_weight(
            "moving_mean", shape, self.moving_mean_initializer
        )
        self.moving_variance = self._stat_weight(
            "moving_variance", shape, self.moving_variance_initializer
        )

    def _ghost_sum(self, values):
        """(batch, k) per-example sums -> (ghost batches, k) sums."""
        v = self.virtual_batch_size
        pad = (-ops.shape(values)[0]) % v
        if not (isinstance(pad, int) and pad == 0):
            values = ops.pad(values, [[0, pad], [0, 0]])
        values = ops.reshape(values, (-1, v, values.shape[-1]))
        return ops.sum(values, axis=1)

    def _per_example(self, ghost_stats, batch):
        """(ghost batches, C) -> (batch, C) broadcast on the input rank."""
        index = ops.arange(batch) // self.virtual_batch_size
        stats = ops.take(ghost_stats, index, axis=0)
        shape = [1] * self._ndim
        shape[0] = -1
        shape[self._axis] = ghost_stats.shape[-1]
        return ops.reshape(stats, shape)

    def call(self, inputs, training=None, mask=None):
        x = self._upcast(inputs)
        gamma, beta = self._gamma_beta(x.dtype)
        if not (training and self.trainable):
            outputs = ops.batch_normalization(
                x,
                mean=ops.cast(self.moving_mean, x.dtype),
                variance=ops.cast(self.moving_variance, x.dtype),
                axis=self._axis,
                offset=beta,
                scale=gamma,
                epsilon=self.epsilon,
            )
            return ops.cast(outputs, self.compute_dtype)

        weights = self._mask_weights(x, mask)
        batch = ops.shape(x)[0]
        axes = [a for a in self._reduction_axes if a != 0]

        if weights is None:
            sums = ops.sum(x, axis=axes) if axes else x
            size = 1
            for a in axes:
                size = size * ops.shape(x)[a]
            counts = ops.ones((batch, 1), x.dtype) * ops.cast(size, x.dtype)
        else:
            sums = ops.sum(x * weights, axis=axes) if axes else x * weights
            counts = ops.reshape(
                ops.sum(weights, axis=axes) if axes else weights, (-1, 1)
            )
        channels = x.shape[self._axis]
        sums = ops.reshape(sums, (-1, channels))
        ghost_counts = self._ghost_sum(counts)
        ghost_mean = ops.divide_no_nan(self._ghost_sum(sums), ghost_counts)
        centered = x - self._per_example(ghost_mean, batch)
        squares = ops.square(centered)
        if weights is not None:
            squares = squares * weights
        square_sums = ops.sum(squares, axis=axes) if axes else squares
        square_sums = ops.reshape(square_sums, (-1, channels))
        ghost_var = ops.divide_no_nan(
            self._ghost_sum(square_sums), ghost_counts
        )
        inv = ops.rsqrt(ghost_var + self.epsilon)
        if gamma is not None:
            inv = inv * gamma
        outputs = centered * self._per_example(inv, batch)
        if beta is not None:
            outputs = outputs + self._broadcast(beta)

        # Moving statistics: count-weighted means over the ghost batches.
        total_sum = ops.sum(sums, axis=0)
        total_squares = ops.sum(square_sums, axis=0)
        total_count = ops.sum(counts, axis=0)
        if self.synchronized:
            total_sum, total_squares, total_count = replica_sum(
                [total_sum, total_squares, total_count]
            )
        self._update(
            self.moving_mean, ops.divide_no_nan(total_sum, total_count)
        )
        self._update(
            self.moving_variance,
            ops.divide_no_nan(total_squares, total_count),
        )
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "virtual_batch_size": self.virtual_batch_size,
        }
