"""KerasTuner HyperModel for `recipes/lenet.py` (LeNet-5 options)."""

import keras_tuner

from kdl.models import LENET_DENSES
from kdl.models import LENET_POOLINGS
from kdl.models import build_lenet5
from kdl.models import compile_classifier


class LeNetHyperModel(keras_tuner.HyperModel):
    """Searches pooling, dense factorisation, activation and learning rate.

    The model is `kdl.models.build_lenet5`, compiled with
    `kdl.models.compile_classifier`. Defaults equal the recipe's: max
    pooling, full dense layers (rank 16 when low-rank), tanh, Adam at 1e-3.

    Args:
        input_shape: `(H, W, C)`.
        num_classes: number of classes (sparse integer labels).
    """

    def __init__(self, input_shape, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = int(num_classes)

    def build(self, hp):
        pooling = hp.Choice("pooling", list(LENET_POOLINGS), default="max")
        dense = hp.Choice("dense", list(LENET_DENSES), default="dense")
        rank = hp.Int("rank", 4, 64, sampling="log", default=16)
        activation = hp.Choice("activation", ["tanh", "relu"], default="tanh")
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        model = build_lenet5(
            self.input_shape,
            self.num_classes,
            pooling=pooling,
            dense=dense,
            rank=rank,
            activation=activation,
        )
        return compile_classifier(model, lr)
