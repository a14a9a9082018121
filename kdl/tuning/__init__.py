"""kdl.tuning public API."""

from kdl.tuning.basics import MLPHyperModel
from kdl.tuning.batchnorm import BatchNormConvNetHyperModel
from kdl.tuning.batchnorm_mlp import BatchNormMLPHyperModel
from kdl.tuning.glo import GLOHyperModel
from kdl.tuning.lenet import LeNetHyperModel
from kdl.tuning.nat import NATHyperModel
from kdl.tuning.nmt import NMTHyperModel
from kdl.tuning.pretraining import DeepClassifierHyperModel
from kdl.tuning.scrn_lm import SCRNLanguageModelHyperModel

__all__ = [
    "BatchNormConvNetHyperModel",
    "BatchNormMLPHyperModel",
    "DeepClassifierHyperModel",
    "GLOHyperModel",
    "LeNetHyperModel",
    "MLPHyperModel",
    "NATHyperModel",
    "NMTHyperModel",
    "SCRNLanguageModelHyperModel",
]
