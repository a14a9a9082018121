"""kdl.losses public API."""

from kdl.losses.noise_as_targets import NoiseAsTargets

__all__ = [
    "NoiseAsTargets",
]
