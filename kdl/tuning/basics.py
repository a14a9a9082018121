"""KerasTuner HyperModel for the lecture basics (an MLP classifier)."""

import keras
import keras_tuner

from kdl.initializers import FanInUniform
from kdl.models import build_mlp

INITIALIZERS = ("glorot_uniform", "fan_in_uniform")


class MLPHyperModel(keras_tuner.HyperModel):
    """Searches depth, width, activation, initializer and learning rate.

    Defaults equal `recipes/basics.py`'s MLP: 1 hidden layer of 64 ReLU
    units, Glorot init, Adam at 1e-3.

    Args:
        input_shape: shape of one example.
        num_classes: number of classes (sparse integer labels).
    """

    def __init__(self, input_shape, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = int(num_classes)

    def build(self, hp):
        layers = hp.Int("layers", 1, 3, default=1)
        units = hp.Int("units", 16, 256, step=16, default=64)
        activation = hp.Choice(
            "activation", ["relu", "tanh", "sigmoid"], default="relu"
        )
        init = hp.Choice(
            "initializer", list(INITIALIZERS), default="glorot_uniform"
        )
        lr = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3)
        model = build_mlp(
            self.input_shape,
            [units] * layers,
            self.num_classes,
            activation=activation,
            kernel_initializer=(
                FanInUniform() if init == "fan_in_uniform" else init
            ),
        )
        model.compile(
            optimizer=keras.optimizers.Adam(lr),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model
