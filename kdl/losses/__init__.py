"""kdl.losses public API."""

from kdl.losses.laplacian_pyramid import LaplacianPyramidLoss
from kdl.losses.noise_as_targets import NoiseAsTargets
from kdl.losses.style import StyleLoss
from kdl.losses.style import gram_matrix

__all__ = [
    "LaplacianPyramidLoss",
    "NoiseAsTargets",
    "StyleLoss",
    "gram_matrix",
]
