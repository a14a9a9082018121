"""Frechet distance between Gaussians fitted to features of two image sets."""

import warnings

import keras
import numpy as np
import scipy.linalg

from kdl import _validation


def gaussian_statistics(features):
    """Mean and covariance (ddof 1) of `(n, d)` features, float64."""
    features = np.asarray(features, dtype="float64")
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(
            "`features` must be an (n, d) array with n >= 2. Received: "
            f"features.shape={features.shape}"
        )
    return features.mean(axis=0), np.cov(features, rowvar=False, ddof=1)


def _sqrtm(product, check=True):
    """`scipy.linalg.sqrtm(product)`'s real part, or None when it is not
    finite or (with `check`) does not square back to `product`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(product)
    if not np.all(np.isfinite(root)):
        return None
    error = np.linalg.norm(root @ root - product)
    if check and error > 1e-4 * max(np.linalg.norm(product), 1e-12):
        return None
    return np.real(root)


def frechet_distance(mean_a, cov_a, mean_b, cov_b, eps=1e-6):
    """Frechet (2-Wasserstein) distance squared between two Gaussians.

    `|mean_a - mean_b|^2 + Tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2))`
    (Dowson & Landau 1982), the formula of the Frechet Inception Distance
    (Heusel et al. 2017). The matrix square root is
    `scipy.linalg.sqrtm`; when it is not finite (singular covariances,
    e.g. fewer samples than dimensions) or does not square back to
    `cov_a cov_b` (to 1e-4 relative), it is taken again with `eps * I`
    added to both covariances; a tiny imaginary part from rounding is
    dropped.

    Args:
        mean_a, mean_b: `(d,)` means.
        cov_a, cov_b: `(d, d)` covariances.
        eps: the diagonal offset used when the square root fails.

    Returns:
        The distance, a float (>= 0 up to rounding).
    """
    mean_a, mean_b = (
        np.atleast_1d(np.asarray(m, "float64")) for m in (mean_a, mean_b)
    )
    cov_a, cov_b = (
        np.atleast_2d(np.asarray(c, "float64")) for c in (cov_a, cov_b)
    )
    d = mean_a.shape[0]
    shapes = (mean_a.shape, mean_b.shape, cov_a.shape, cov_b.shape)
    if shapes != ((d,), (d,), (d, d), (d, d)):
        raise ValueError(
            "The means must be (d,) and the covariances (d, d) for one d. "
            f"Received: shapes={shapes}"
        )
    eps = _validation.non_negative_number("eps", eps)
    root = _sqrtm(cov_a @ cov_b)
    if root is None:
        offset = eps * np.eye(d)
        root = _sqrtm((cov_a + offset) @ (cov_b + offset), check=False)
        if root is None:
            raise ValueError(
                "The square root of cov_a @ cov_b is not finite, even with "
                f"eps * I added to both. Received: eps={eps}"
            )
    diff = mean_a - mean_b
    return float(
        diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root)
    )


def feature_model(classifier, layer):
    """`classifier` cut at `layer`: a model from images to its outputs.

    Args:
        classifier: a functional or `Sequential` Keras model.
        layer: the name of the layer whose outputs are the features (e.g.
            `"f6"`, LeNet-5's 84-unit layer).
    """
    names = [lay.name for lay in classifier.layers]
    if layer not in names:
        raise ValueError(
            f"`layer` must name a layer of the classifier ({names}). "
            f"Received: layer={layer!r}"
        )
    return keras.Model(classifier.inputs, classifier.get_layer(layer).output)


def feature_frechet_distance(features, images_a, images_b, batch_size=256):
    """Frechet distance between Gaussians fitted to features of two sets.

    The FID recipe (Heusel et al. 2017) with a feature extractor of one's
    own: `features` (e.g. `feature_model(classifier, "f6")`) maps each
    image set to vectors, a Gaussian is fitted to each
    (`gaussian_statistics`) and `frechet_distance` compares them. Lower is
    closer; it depends on the set sizes (compare equal sizes).

    Args:
        features: a Keras model from images to `(batch, d)` features.
        images_a, images_b: image arrays, as the model takes them.
        batch_size: prediction batch size.

    Returns:
        The distance, a float.
    """
    stats = []
    for images in (images_a, images_b):
        out = features.predict(
            np.asarray(images), batch_size=batch_size, verbose=0
        )
        stats.append(gaussian_statistics(out.reshape(len(out), -1)))
    return frechet_distance(*stats[0], *stats[1])
