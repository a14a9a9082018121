"""kdl.optimizers public API: what Keras lacks (row-sparse updates).

`RowSparseOptimizer` is the base class: subclass it (implementing
`slot_names`, `dense_update` and `row_update`) for another row-sparse rule,
or test `isinstance(optimizer, RowSparseOptimizer)` to accept any of them.
"""

from kdl.optimizers.row_sparse_adam import RowSparseAdam
from kdl.optimizers.row_sparse_optimizer import RowSparseOptimizer
from kdl.optimizers.row_sparse_sgd import RowSparseSGD

__all__ = [
    "RowSparseAdam",
    "RowSparseOptimizer",
    "RowSparseSGD",
]
