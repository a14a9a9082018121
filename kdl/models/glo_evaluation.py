"""How well a trained GLO model reconstructs images, measured and drawn."""

import os

import numpy as np
import scipy.ndimage

from kdl import _validation
from kdl.training.reporting import save_image_grid


def laplacian_energy_ratio(images, reference):
    """How much fine detail `images` keep, relative to `reference`.

    The mean squared response of the discrete Laplacian
    (`scipy.ndimage.laplace` over each image's height and width, per
    channel) of `images`, divided by that of `reference`: 1 for images as
    sharp as the reference, below 1 for blurred ones (a blur removes the
    high frequencies the Laplacian measures), above 1 for added noise. It
    is the sharpness number for GLO's claim that the Lap1 loss gives
    sharper reconstructions than L2 (Bojanowski et al. 2018, sec. 4).

    Args:
        images: float array `(N, H, W)` or `(N, H, W, C)`.
        reference: array of the same shape (e.g. the originals).

    Returns:
        The ratio, a float (NaN if `reference` has no Laplacian energy).
    """
    images = np.asarray(images, dtype="float64")
    reference = np.asarray(reference, dtype="float64")
    if images.shape != reference.shape or images.ndim not in (3, 4):
        raise ValueError(
            "`images` and `reference` must both be (N, H, W) or "
            f"(N, H, W, C) arrays of one shape. Received: images.shape="
            f"{images.shape}, reference.shape={reference.shape}"
        )

    def energy(batch):
        if batch.ndim == 3:
            batch = batch[..., None]
        return float(
            np.mean(
                [
                    np.mean(scipy.ndimage.laplace(image[..., c]) ** 2)
                    for image in batch
                    for c in range(batch.shape[-1])
                ]
            )
        )

    base = energy(reference)
    return energy(images) / base if base > 0 else float("nan")


def evaluate_glo(
    model,
    x,
    x_test,
    encode_steps=100,
    encode_learning_rate=0.05,
    seed=0,
    directory=None,
    label="GLO",
    shown=8,
):
    """Reconstruction errors of a trained `GLO` model, and its image grids.

    Training images are reconstructed from their learned codes; held-out
    images from codes found by optimisation with the generator fixed
    (`GLO.encode`). With `directory`, three grids are written there:
    `reconstructions.png` (training and held-out images over their
    reconstructions), `samples.png` (codes drawn from a full-covariance
    Gaussian fitted to the codes) and `interpolations.png` (straight paths
    between the codes of pairs of training images).

    Args:
        model: a trained `kdl.models.GLO` whose codes are those of `x`.
        x: the training images, float32 in [0, 1], in code order.
        x_test: held-out images to encode.
        encode_steps, encode_learning_rate: `GLO.encode`'s optimisation.
        seed: seed of the encoding and of the samples.
        directory: where to write the grids (None: no grids).
        label: the grids' title prefix (e.g. "GLO Lap1 + PCA init").
        shown: images per grid row (>= 1).

    Returns:
        A dict: `train_mse` and `test_mse_encoded`, the mean squared
        error per pixel, and `train_sharpness` / `test_sharpness`, the
        `laplacian_energy_ratio` of the reconstructions to the originals
        (1: as sharp as the originals; lower: blurrier).

    Example:
        >>> evaluate_glo(model, x, x_test, directory="out/glo/lap1_pca")
        {'train_mse': 0.012, 'test_mse_encoded': 0.019}
    """
    encode_steps = _validation.positive_integer("encode_steps", encode_steps)
    shown = _validation.positive_integer("shown", shown)
    recon = model.reconstruct(np.arange(len(x)))
    codes = model.encode(
        x_test,
        steps=encode_steps,
        learning_rate=encode_learning_rate,
        seed=seed,
    )
    test_recon = model.decode(codes)
    result = {
        "train_mse": float(np.mean((recon - x) ** 2)),
        "test_mse_encoded": float(np.mean((test_recon - x_test) ** 2)),
        "train_sharpness": laplacian_energy_ratio(recon, x),
        "test_sharpness": laplacian_energy_ratio(test_recon, x_test),
    }
    if directory is None:
        return result
    save_image_grid(
        [x[:shown], recon[:shown], x_test[:shown], test_recon[:shown]],
        os.path.join(directory, "reconstructions.png"),
        row_labels=["train", "reconstructed", "held-out", "encoded"],
        title=f"{label}: train MSE {result['train_mse']:.4f}, held-out "
        f"{result['test_mse_encoded']:.4f}",
        normalize="none",
    )
    save_image_grid(
        np.split(model.sample(2 * shown, seed=seed), 2),
        os.path.join(directory, "samples.png"),
        title=f"{label}: codes ~ full-covariance Gaussian",
        normalize="none",
    )
    pairs = min(4, len(x) // 2)
    save_image_grid(
        [
            model.interpolate(2 * k, 2 * k + 1, steps=shown)
            for k in range(pairs)
        ],
        os.path.join(directory, "interpolations.png"),
        title=f"{label}: linear paths between codes",
        normalize="none",
    )
    return result
