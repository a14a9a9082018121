"""Images read one pixel at a time: sequential (and permuted) MNIST."""

import numpy as np

from kdl import _validation


def pixel_sequences(images, size=14, permutation_seed=None):
    """Images -> sequences of single pixels, in row order or permuted.

    The sequential-MNIST task of Le et al. (2015) and Cooijmans et al.
    (2016): a recurrent network reads an image one pixel per step and
    classifies it from its last state. Images are first shrunk to
    `size x size` by averaging non-overlapping blocks (28x28 -> 14x14
    gives 196 steps instead of 784), scaled to [0, 1], then flattened row
    by row; with `permutation_seed` the pixels are shuffled by one fixed
    permutation (the "permuted MNIST" variant, whose dependencies span the
    whole sequence).

    Args:
        images: uint8 `(N, H, W)` or `(N, H, W, 1)` images (0-255); `H` and
            `W` must be multiples of `size`.
        size: the side of the shrunk image (int >= 1).
        permutation_seed: `None` for row order, else the seed of the fixed
            pixel permutation (int >= 0; the same seed, the same order).

    Returns:
        float32 `(N, size * size, 1)` sequences.

    Example:
        >>> (x, y), _ = kdl.datasets.load_images("mnist_5k")
        >>> pixel_sequences(x).shape
        (4000, 196, 1)
    """
    size = _validation.positive_integer("size", size)
    permutation_seed = _validation.non_negative_integer(
        "permutation_seed", permutation_seed, allow_none=True
    )
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1] % size or x.shape[2] % size:
        raise ValueError(
            "`images` must be (N, H, W) with H and W multiples of `size`. "
            f"Received: images with shape {np.shape(images)}, size={size}"
        )
    n, h, w = x.shape
    blocks = x.reshape(n, size, h // size, size, w // size)
    seq = (blocks.mean(axis=(2, 4), dtype="float64") / 255.0).reshape(n, -1)
    if permutation_seed is not None:
        order = np.random.RandomState(permutation_seed).permutation(size**2)
        seq = seq[:, order]
    return seq[..., None].astype("float32")
