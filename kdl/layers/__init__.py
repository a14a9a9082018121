"""kdl.layers public API."""

from kdl.layers.adaptive_softmax import AdaptiveSoftmax
from kdl.layers.bahdanau_attention import BahdanauAttention
from kdl.layers.batch_renormalization import BatchRenormalization
from kdl.layers.bn_lstm_cell import BNLSTMCell
from kdl.layers.fractional_max_pooling2d import FractionalMaxPooling2D
from kdl.layers.ghost_batch_normalization import GhostBatchNormalization
from kdl.layers.l1_batch_normalization import L1BatchNormalization
from kdl.layers.latent_table import LatentTable
from kdl.layers.low_rank_dense import LowRankDense
from kdl.layers.lp_pooling2d import LpPooling2D
from kdl.layers.rbm import RBM
from kdl.layers.recurrent_batch_normalization import RecurrentBatchNormalization
from kdl.layers.scrn import SCRN
from kdl.layers.scrn_cell import SCRNCell
from kdl.layers.stochastic_pooling2d import StochasticPooling2D

__all__ = [
    "AdaptiveSoftmax",
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
