"""Constrains each row of a weight to the unit l2 sphere."""

import keras
from keras import ops

from kdl.constraints.row_constraint import RowConstraint

# Rows with a norm below this are left alone (a zero row has no direction);
# float32 rows of a trained table are never that small.
EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="kdl")
class UnitSphereRows(RowConstraint):
    """Projects each row onto the unit l2 sphere: `w / |w|`.

    Every row (vector along the last axis) is scaled to norm 1; a row of
    norm below 1e-12 (e.g. all zeros) has no direction and is divided by
    1e-12 instead. The GLO paper's wording: codes "on the unit l2 sphere"
    (`kdl.layers.LatentTable(projection="sphere")`).

    Unlike `keras.constraints.UnitNorm(axis=-1)`, which divides by
    `epsilon + |w|` (norms slightly below 1), rows end with norm 1 up to
    float rounding.

    A `kdl.constraints.RowConstraint`: the row-sparse optimizers of
    `kdl.optimizers` apply it to the rows a sparse step updated only.

    Example:

    ```python
    table = keras.layers.Embedding(
        1000, 16, embeddings_constraint=kdl.constraints.UnitSphereRows()
    )
    ```

    Reference:
        Bojanowski, Joulin, Lopez-Paz, Szlam, "Optimizing the Latent Space of
        Generative Networks", ICML 2018 (arXiv:1707.05776).
    """

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        norm = ops.sqrt(ops.sum(ops.square(w), axis=-1, keepdims=True))
        return w / ops.maximum(norm, ops.cast(EPSILON, w.dtype))

    def get_config(self):
        return {}
