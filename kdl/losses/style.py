"""Gram matrices and the style loss of neural style transfer (Gatys)."""

import keras
from keras import ops

from kdl import _validation


def gram_matrix(features):
    """Gram matrix of feature maps: `S_ij = sum_k F_ik F_jk`.

    `F` is the `(N, M)` matrix of a layer's `N` channels over its `M`
    spatial positions, so `S` is `(N, N)`; unnormalised (the style loss
    applies the `1/(N^2 M^2)` factor). Computed in float32.

    Args:
        features: `(batch, height, width, channels)` (or `(batch,
            positions, channels)`).

    Returns:
        float32 `(batch, channels, channels)`.
    """
    x = ops.cast(features, "float32")
    if len(x.shape) == 4:
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1] * shape[2], shape[3]))
    elif len(x.shape) != 3:
        raise ValueError(
            "`features` must have rank 3 or 4 (batch, [height, width,] "
            f"channels). Received: features.shape={x.shape}"
        )
    return ops.einsum("bki,bkj->bij", x, x)


def _positions(features):
    """`H * W` of `(batch, H, W, N)` feature maps, as a float32 scalar."""
    shape = ops.shape(features)
    return ops.cast(shape[1] * shape[2], "float32")


@keras.saving.register_keras_serializable(package="kdl")
class StyleLoss(keras.losses.Loss):
    """Gatys et al.'s style loss of one layer.

    `E = constant / (N^2 M^2) * sum_ij (S(y_pred) - S(y_true))_ij^2`, with
    `S` the Gram matrix (`gram_matrix`), `N` the number of channels and
    `M = height * width` of the layer. The total style loss is the sum of
    one `StyleLoss` per layer with weights `w_l`.

    The constant: Gatys, Ecker, Bethge (CVPR 2016, eq. 4; arXiv:1508.06576
    eq. 4) write `E_l = 1/(4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2`, i.e.
    `constant=0.25` (the default, following the paper); the lecture's
    `L_style = sum_l 1/(N_l^2 M_l^2) sum_ij (S(x) - S(y))^2` is
    `constant=1`. The factor only rescales the style weight.

    Args:
        constant: the factor in front of `1/(N^2 M^2)` (default 0.25).
        reduction, name, dtype: as for `keras.losses.Loss`.

    Call arguments:
        y_true: the style image's feature maps `(batch, H', W', N)`, or
            their precomputed Gram matrices `(batch, N, N)` (taken over
            `M` positions, the size of `y_pred`'s maps).
        y_pred: the generated image's feature maps `(batch, H, W, N)`;
            `M = H * W`.

    Feature maps of another size (`M' = H' * W'` positions) are compared
    by their Gram matrices per position, `S(y_true) / M'` against
    `S(y_pred) / M` (the formula above when `M' = M`): an image and a
    tiling of it have the same style and a zero loss.

    Returns:
        The loss, reduced over the batch.

    Example:

    ```python
    loss = kdl.losses.StyleLoss()
    style_gram = kdl.losses.gram_matrix(extractor(style_image))
    value = loss(style_gram, extractor(generated))
    ```

    Reference:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional
        Neural Networks", CVPR 2016 (arXiv:1508.06576).
    """

    def __init__(
        self,
        constant=0.25,
        reduction="sum_over_batch_size",
        name="style_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.constant = _validation.positive_number("constant", constant)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        if len(y_pred.shape) != 4:
            raise ValueError(
                "`y_pred` must be feature maps (batch, height, width, "
                f"channels). Received: y_pred.shape={y_pred.shape}"
            )
        channels = y_pred.shape[-1]
        positions = _positions(y_pred)
        if len(y_true.shape) == 3:  # a Gram matrix over `M` positions
            target = ops.cast(y_true, "float32") / positions
        else:
            target = gram_matrix(y_true) / _positions(y_true)
        diff = gram_matrix(y_pred) / positions - target
        scale = self.constant / float(channels) ** 2
        return scale * ops.sum(ops.square(diff), axis=(1, 2))

    def get_config(self):
        return {**super().get_config(), "constant": self.constant}
