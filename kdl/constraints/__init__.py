"""kdl.constraints public API: row-wise weight constraints Keras lacks."""

from kdl.constraints.row_constraint import RowConstraint
from kdl.constraints.unit_ball_rows import UnitBallRows
from kdl.constraints.unit_sphere_rows import UnitSphereRows

__all__ = [
    "RowConstraint",
    "UnitBallRows",
    "UnitSphereRows",
]
