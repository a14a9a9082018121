"""kdl.tuning public API."""

from kdl.tuning.basics import MLPHyperModel

__all__ = [
    "MLPHyperModel",
]
