"""L1 batch normalization (Hoffer, Banner, Golan & Soudry 2018)."""

import math

import keras
from keras import ops

from kdl.layers._batch_norm_base import BatchNormBase

_C_L1 = math.sqrt(math.pi / 2.0)


@keras.saving.register_keras_serializable(package="kdl")
class L1BatchNormalization(BatchNormBase):
    """Batch normalization with the L1 estimate of the standard deviation.

    **Training**, per channel over the batch (and all non-feature axes):

    ```
    mu    = mean(x)
    sigma = sqrt(pi / 2) * mean(|x - mu|)    # = std for Gaussian x
    y     = gamma * (x - mu) / (sigma + epsilon) + beta
    ```

    No squares or square roots of sums: cheaper and stable in low
    precision (the paper's point). The moving statistics `moving_mean`
    and `moving_stddev` (the moving average of `sigma`) are updated as
    `moving = moving * momentum + batch * (1 - momentum)`.

    **Inference**: `gamma * (x - moving_mean) / (moving_stddev + epsilon)
    + beta`.

    Args:
        axis: int, the feature axis. Default -1.
        momentum: float in [0, 1], momentum of the moving statistics.
        epsilon: positive float added to `sigma`.
        center, scale, *_initializer, *_regularizer, *_constraint: as in
            `keras.layers.BatchNormalization`; `moving_variance_initializer`
            initializes `moving_stddev` (default ones).
        synchronized: bool, statistics over all replicas of a
            `tf.distribute` strategy (two all-reduces: the mean, then the
            absolute deviations; TF replica context `all_reduce`, no
            `keras.ops` form exists).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of any rank.
        training: bool, batch statistics (True) or moving statistics.
        mask: optional boolean tensor with the shape of `inputs` without the
            feature axis; `False` positions are left out of the statistics.

    Returns:
        A tensor of the shape of `inputs`, in the layer's compute dtype.
        Statistics are computed in float32 under mixed precision.

    Example:

    >>> layer = L1BatchNormalization()
    >>> y = layer(np.random.rand(32, 10).astype("float32"), training=True)

    Reference:
        Hoffer, Banner, Golan & Soudry, "Norm matters: efficient and
        accurate normalization schemes in deep networks", NeurIPS 2018,
        https://arxiv.org/abs/1803.01814 (section 4).
    """

    def build_statistics(self, shape):
        self.moving_mean = self._stat_weight(
            "moving_mean", shape, self.moving_mean_initializer
        )
        self.moving_stddev = self._stat_weight(
            "moving_stddev", shape, self.moving_variance_initializer
        )

    def _normalize(self, x, mean, sigma, gamma, beta):
        inv = 1.0 / (sigma + self.epsilon)
        if gamma is not None:
            inv = inv * gamma
        offset = -mean * inv
        if beta is not None:
            offset = offset + beta
        return x * self._broadcast(inv) + self._broadcast(offset)

    def call(self, inputs, training=None, mask=None):
        x = self._upcast(inputs)
        gamma, beta = self._gamma_beta(x.dtype)
        if not (training and self.trainable):
            outputs = self._normalize(
                x,
                ops.cast(self.moving_mean, x.dtype),
                ops.cast(self.moving_stddev, x.dtype),
                gamma,
                beta,
            )
            return ops.cast(outputs, self.compute_dtype)

        weights = self._mask_weights(x, mask)
        axes = self._reduction_axes
        if weights is None and not self.synchronized:
            mean = ops.mean(x, axis=axes)
            deviation = ops.mean(ops.abs(x - self._broadcast(mean)), axis=axes)
        else:
            mean = self._mean(x, weights, axes)
            absolute = ops.abs(x - self._broadcast(mean))
            if weights is not None:
                absolute = absolute * weights
            total, count = self._sum_and_count(absolute, x, weights, axes)
            deviation = ops.divide_no_nan(total, count)
        sigma = _C_L1 * deviation
        outputs = self._normalize(x, mean, sigma, gamma, beta)
        self._update(self.moving_mean, mean)
        self._update(self.moving_stddev, sigma)
        return ops.cast(outputs, self.compute_dtype)
