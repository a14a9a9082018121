"""How well a trained GLO (or GAN) generator reconstructs and samples images."""

import os

import numpy as np
import scipy.ndimage

from kdl import _validation
from kdl.models.frechet import feature_frechet_distance
from kdl.training.atomic import atomic_open
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


def evaluate_generator(
    model,
    x_test,
    encode_steps=100,
    encode_learning_rate=0.05,
    seed=0,
    features=None,
    fd_images=None,
    directory=None,
    label="model",
    shown=8,
    rows=(),
):
    """Held-out reconstructions and samples of a GLO or DCGAN model, scored.

    The GLO paper's comparison of generators: held-out images are
    reconstructed from codes found by optimisation with the generator
    fixed (`model.encode`, then `model.decode`), and samples are drawn
    (`model.sample`; GLO: a Gaussian fitted to its codes, a GAN: its
    prior). With a feature model (`kdl.models.feature_model` of a
    classifier), Frechet distances in its feature space are measured too.

    Args:
        model: a trained `kdl.models.GLO` or `kdl.models.DCGAN` (anything
            with `encode(images, steps=, learning_rate=, seed=)`,
            `decode(codes)` and `sample(n, seed=)`).
        x_test: held-out images, float32 in [0, 1], shaped like the
            generator's outputs.
        encode_steps, encode_learning_rate: the code search.
        seed: seed of the search's start and of the samples.
        features: a Keras model from images to feature vectors, or None.
        fd_images: real images the samples are compared with (as many
            samples are drawn); needed with `features`.
        directory: where to write `reconstructions.png` (`rows`, then
            held-out images over their reconstructions) and `samples.png`,
            and the shown images as `shown.npz` (None: nothing written).
        label: the grids' title prefix (e.g. "GLO Lap1 + PCA init").
        shown: images per grid row (>= 1).
        rows: extra `(label, images)` rows put first in the grid.

    Returns:
        A dict: `test_mse_encoded` (mean squared error per pixel of the
        held-out reconstructions), `test_sharpness`
        (`laplacian_energy_ratio` of them to the originals); with
        `features`, also `sample_sharpness` (samples vs `fd_images`),
        `fd_samples` (`fd_images` vs as many samples) and
        `fd_reconstructions` (`x_test` vs its reconstructions).
    """
    encode_steps = _validation.positive_integer("encode_steps", encode_steps)
    shown = _validation.positive_integer("shown", shown)
    if features is not None and fd_images is None:
        raise ValueError(
            "`fd_images` (the real images to compare samples with) are "
            "needed with `features`. Received: fd_images=None"
        )
    codes = model.encode(
        x_test,
        steps=encode_steps,
        learning_rate=encode_learning_rate,
        seed=seed,
    )
    recon = model.decode(codes)
    result = {
        "test_mse_encoded": float(np.mean((recon - x_test) ** 2)),
        "test_sharpness": laplacian_energy_ratio(recon, x_test),
    }
    count = 2 * shown if features is None else len(fd_images)
    wanted = directory is not None or features is not None
    samples = model.sample(count, seed=seed) if wanted else None
    if features is not None:
        result["sample_sharpness"] = laplacian_energy_ratio(samples, fd_images)
        result["fd_samples"] = feature_frechet_distance(
            features, fd_images, samples
        )
        result["fd_reconstructions"] = feature_frechet_distance(
            features, x_test, recon
        )
    if directory is None:
        return result
    labels = [name for name, _ in rows] + ["held-out", "encoded"]
    images = [np.asarray(im)[:shown] for _, im in rows]
    images += [x_test[:shown], recon[:shown]]
    save_image_grid(
        images,
        os.path.join(directory, "reconstructions.png"),
        row_labels=labels,
        title=f"{label}: held-out MSE {result['test_mse_encoded']:.4f}",
        normalize="none",
    )
    save_image_grid(
        [samples[:shown], samples[shown : 2 * shown]],
        os.path.join(directory, "samples.png"),
        title=f"{label}: samples",
        normalize="none",
    )
    with atomic_open(os.path.join(directory, "shown.npz"), "wb") as f:
        np.savez(f, samples=samples[:shown], reconstructions=recon[:shown])
    return result


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
    features=None,
    fd_images=None,
):
    """Reconstruction errors of a trained `GLO` model, and its image grids.

    Training images are reconstructed from their learned codes; held-out
    images and samples are scored by `evaluate_generator` (codes found by
    optimisation with the generator fixed, `GLO.encode`; samples from a
    full-covariance Gaussian fitted to the codes). With `directory`, the
    grids `reconstructions.png` (training and held-out images over their
    reconstructions), `samples.png` and `interpolations.png` (straight
    paths between the codes of pairs of training images) are written.

    Args:
        model: a trained `kdl.models.GLO` whose codes are those of `x`.
        x: the training images, float32 in [0, 1], in code order.
        x_test, encode_steps, encode_learning_rate, seed, features,
            fd_images, directory, label, shown: as `evaluate_generator`.

    Returns:
        `evaluate_generator`'s dict plus `train_mse`, the mean squared
        error per pixel of the training reconstructions, and
        `train_sharpness`, their `laplacian_energy_ratio` to the originals
        (1: as sharp as the originals; lower: blurrier).

    Example:
        >>> evaluate_glo(model, x, x_test, directory="out/glo/lap1_pca")
        {'train_mse': 0.012, 'test_mse_encoded': 0.019, ...}
    """
    shown = _validation.positive_integer("shown", shown)
    recon = model.reconstruct(np.arange(len(x)))
    result = {
        "train_mse": float(np.mean((recon - x) ** 2)),
        "train_sharpness": laplacian_energy_ratio(recon, x),
    }
    result.update(
        evaluate_generator(
            model,
            x_test,
            encode_steps=encode_steps,
            encode_learning_rate=encode_learning_rate,
            seed=seed,
            features=features,
            fd_images=fd_images,
            directory=directory,
            label=f"{label} (train MSE {result['train_mse']:.4f})",
            shown=shown,
            rows=[("train", x), ("reconstructed", recon)],
        )
    )
    if directory is None:
        return result
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
