"""kdl.tuning public API."""

from kdl.tuning.basics import MLPHyperModel
from kdl.tuning.nat import NATHyperModel

__all__ = [
    "MLPHyperModel",
    "NATHyperModel",
]
