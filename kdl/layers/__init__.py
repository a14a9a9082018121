"""kdl.layers public API."""

from kdl.layers.attention import BahdanauAttention
from kdl.layers.batch_renormalization import BatchRenormalization
from kdl.layers.ghost_batch_normalization import GhostBatchNormalization
from kdl.layers.l1_batch_normalization import L1BatchNormalization
from kdl.layers.latent_table import LatentTable
from kdl.layers.low_rank import LowRankDense
from kdl.layers.pooling import FractionalMaxPooling2D
from kdl.layers.pooling import LpPooling2D
from kdl.layers.pooling import StochasticPooling2D
from kdl.layers.rbm import RBM
from kdl.layers.recurrent_bn import BNLSTMCell
from kdl.layers.recurrent_bn import RecurrentBatchNormalization
from kdl.layers.scrn import SCRN
from kdl.layers.scrn import SCRNCell

__all__ = [
    "BNLSTMCell",
    "BahdanauAttention",
    "BatchRenormalization",
    "FractionalMaxPooling2D",
    "GhostBatchNormalization",
    "L1BatchNormalization",
    "LatentTable",
    "LowRankDense",
    "LpPooling2D",
    "RBM",
    "RecurrentBatchNormalization",
    "SCRN",
    "SCRNCell",
    "StochasticPooling2D",
]
