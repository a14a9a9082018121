"""kdl.models public API."""

from kdl.models.mlp import build_mlp
from kdl.models.nat import NAT
from kdl.models.perceptron import Perceptron

__all__ = [
    "NAT",
    "Perceptron",
    "build_mlp",
]
