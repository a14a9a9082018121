"""Constrains each row of a weight to the closed unit l2 ball."""

import keras
from keras import ops

from kdl.constraints.row_constraint import RowConstraint


@keras.saving.register_keras_serializable(package="kdl")
class UnitBallRows(RowConstraint):
    """Projects each row onto the closed unit l2 ball: `w / max(|w|, 1)`.

    Rows (vectors along the last axis) of norm <= 1 are returned unchanged,
    longer ones are scaled to norm 1: the Euclidean projection onto the
    ball, and the projection GLO's reimplementations apply to the latent
    codes after each step (`kdl.layers.LatentTable(projection="ball")`).

    Unlike `keras.constraints.MaxNorm(1, axis=-1)`, which divides by
    `epsilon + |w|`, rows inside the ball stay bitwise unchanged.

    A `kdl.constraints.RowConstraint`: the row-sparse optimizers of
    `kdl.optimizers` apply it to the rows a sparse step updated only.

    Example:

    ```python
    table = keras.layers.Embedding(
        1000, 16, embeddings_constraint=kdl.constraints.UnitBallRows()
    )
    ```

    Reference:
        Bojanowski, Joulin, Lopez-Paz, Szlam, "Optimizing the Latent Space of
        Generative Networks", ICML 2018 (arXiv:1707.05776).
    """

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        norm = ops.sqrt(ops.sum(ops.square(w), axis=-1, keepdims=True))
        return w / ops.maximum(norm, ops.cast(1.0, w.dtype))

    def get_config(self):
        return {}
