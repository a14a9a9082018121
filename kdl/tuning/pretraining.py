"""KerasTuner HyperModel for `recipes/pretraining.py` (the deep sigmoid MLP)."""

import keras
import keras_tuner

from kdl.models import build_deep_classifier

DEFAULT_LAYERS = 3
DEFAULT_UNITS = 500
DEFAULT_LEARNING_RATE = 0.05


class DeepClassifierHyperModel(keras_tuner.HyperModel):
    """Searches depth, width and SGD learning rate of the fine-tuned net.

    Tunes the network without pretraining (the "none" row of the table);
    defaults equal the recipe's: 3 sigmoid layers of 500 units, SGD with
    momentum 0.9 at learning rate 0.05.

    Args:
        input_dim: flat input size.
        num_classes: number of classes (sparse integer labels).
    """

    def __init__(self, input_dim, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.num_classes = int(num_classes)

    def build(self, hp):
        layers = hp.Int("layers", 1, 4, default=DEFAULT_LAYERS)
        units = hp.Int("units", 100, 1000, step=100, default=DEFAULT_UNITS)
        lr = hp.Float(
            "learning_rate",
            1e-3,
            0.5,
            sampling="log",
            default=DEFAULT_LEARNING_RATE,
        )
        model = build_deep_classifier(
            self.input_dim, [units] * layers, self.num_classes
        )
        model.compile(
            optimizer=keras.optimizers.SGD(lr, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model
