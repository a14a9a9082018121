"""Row projections for per-example code tables (GLO).

Used by `kdl.layers.LatentTable` (initial projection) and by the row-sparse
optimizers (projection of the rows a step changed, and nothing else).
"""

from keras import ops

PROJECTIONS = ("ball", "sphere", None)

# Norms below this are left alone by the sphere projection (a zero row has no
# direction); float32 rows of a trained table are never that small.
_EPSILON = 1e-12


def validate_projection(projection):
    """Returns `projection` if it is one of `PROJECTIONS`, else raises."""
    if isinstance(projection, str):
        projection = projection.lower()
        if projection == "none":
            projection = None
    if projection not in PROJECTIONS:
        raise ValueError(
            "`projection` must be one of 'ball', 'sphere' or None. "
            f"Received: projection={projection!r}"
        )
    return projection


def project_rows(rows, projection):
    """Projects each row of `rows` (shape `(..., d)`) onto a unit l2 set.

    Args:
        rows: a float tensor, one code per row (last axis).
        projection: `"ball"`: `z / max(|z|, 1)` (the closed unit ball, the
            formula of GLO's reimplementations); `"sphere"`: `z / |z|` (the
            unit sphere, the wording of the GLO paper); `None`: identity.

    Returns:
        A tensor with the shape and dtype of `rows`.
    """
    projection = validate_projection(projection)
    if projection is None:
        return rows
    norm = ops.sqrt(ops.sum(ops.square(rows), axis=-1, keepdims=True))
    if projection == "ball":
        return rows / ops.maximum(norm, 1.0)
    return rows / ops.maximum(norm, _EPSILON)
