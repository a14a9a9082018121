"""kdl.optimizers public API: what Keras lacks (row-sparse updates)."""

from kdl.optimizers.row_sparse import RowSparseAdam
from kdl.optimizers.row_sparse import RowSparseSGD

__all__ = [
    "RowSparseAdam",
    "RowSparseSGD",
]
