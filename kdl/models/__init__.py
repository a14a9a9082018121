"""kdl.models public API."""

from kdl.models.mlp import build_mlp
from kdl.models.perceptron import Perceptron

__all__ = [
    "Perceptron",
    "build_mlp",
]
