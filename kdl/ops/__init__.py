"""kdl.ops public API."""

from kdl.ops.assignment import linear_sum_assignment

__all__ = [
    "linear_sum_assignment",
]
