"""kdl.losses public API."""

from kdl.losses.laplacian_pyramid import LaplacianPyramidLoss
from kdl.losses.noise_as_targets import NoiseAsTargets

__all__ = [
    "LaplacianPyramidLoss",
    "NoiseAsTargets",
]
