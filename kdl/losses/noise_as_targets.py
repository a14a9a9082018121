"""The Noise As Targets (NAT) regression loss."""

import keras
from keras import ops

from kdl import _validation


@keras.saving.register_keras_serializable(package="kdl")
class NoiseAsTargets(keras.losses.Loss):
    """Squared distance between l2-normalised features and their NAT targets.

    Per example, `loss_i = 1/2 |f_i / |f_i| - c_i|^2`, where `c_i` is the
    example's current target (a fixed point on the unit sphere). The batch
    loss is the mean over the batch (Keras reduction), i.e. the paper's
    `1/(2b) |F - P C|_F^2`. Because both vectors have unit norm,
    `loss_i = 1 - f_i . c_i`, so minimising it maximises the same score that
    the NAT assignment step maximises. Computed in float32 under mixed
    precision.

    `kdl.models.NAT` uses this loss and does the target bookkeeping; use the
    loss directly when you assign targets yourself (e.g. with
    `kdl.ops.linear_sum_assignment`).

    Args:
        normalize: bool, l2-normalise `y_pred` first (the NAT features are
            normalised). Set False if the features are already normalised.
        epsilon: small float added under the square root of the norm.
        reduction: Keras loss reduction (default `"sum_over_batch_size"`).
        name: loss name.

    Call arguments:
        y_true: targets `(batch, feature_dim)`, unit norm.
        y_pred: features `(batch, feature_dim)`.

    Returns:
        The reduced loss (a scalar with the default reduction).

    Example:

    >>> loss = kdl.losses.NoiseAsTargets()
    >>> loss(targets, model(images))

    Reference: Bojanowski & Joulin 2017, "Unsupervised Learning by Predicting
    Noise" (ICML), eq. (3) with the l2-normalised features of Sec. 3.3.
    """

    def __init__(
        self,
        normalize=True,
        epsilon=1e-12,
        reduction="sum_over_batch_size",
        name="noise_as_targets",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.normalize = bool(normalize)
        self.epsilon = _validation.non_negative_number("epsilon", epsilon)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        if self.normalize:
            y_pred = l2_normalize(y_pred, self.epsilon)
        return 0.5 * ops.sum(ops.square(y_pred - y_true), axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "normalize": self.normalize,
            "epsilon": self.epsilon,
        }


def l2_normalize(x, epsilon=1e-12):
    """`x / sqrt(sum(x^2) + epsilon)` over the last axis."""
    return x * ops.rsqrt(
        ops.sum(ops.square(x), axis=-1, keepdims=True) + epsilon
    )
