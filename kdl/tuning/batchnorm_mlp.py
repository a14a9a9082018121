"""KerasTuner HyperModel for `recipes/batchnorm.py` (its MLP)."""

import keras_tuner

from kdl import _validation
from kdl.models import compile_classifier
from kdl.models.normalized_mlp import MLP_NORM_VARIANTS
from kdl.models.normalized_mlp import build_normalized_mlp


class BatchNormMLPHyperModel(keras_tuner.HyperModel):
    """Searches the MLP of `recipes/batchnorm.py` for one normalization.

    The model is `kdl.models.build_normalized_mlp(variant, ...)` with
    `depth` hidden layers of `units` each, compiled with
    `kdl.models.compile_classifier`. Every default equals the recipe
    default: 100 units, learning rate 1e-3, momentum 0.99, ghost batches
    of 32 (only the hyperparameters the variant uses are registered).

    Args:
        variant: one of `kdl.models.MLP_NORM_VARIANTS`.
        depth: hidden layers (int >= 1).
        input_shape, num_classes: of the images.
    """

    def __init__(
        self,
        variant="bn",
        depth=2,
        input_shape=(28, 28, 1),
        num_classes=10,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.variant = _validation.one_of("variant", variant, MLP_NORM_VARIANTS)
        self.depth = _validation.positive_integer("depth", depth)
        self.input_shape = tuple(input_shape)
        self.num_classes = _validation.positive_integer(
            "num_classes", num_classes
        )

    def build(self, hp):
        units = hp.Choice("units", [50, 100, 200, 400], default=100)
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        kwargs = {}
        if self.variant != "none":
            kwargs["momentum"] = hp.Choice(
                "momentum", [0.9, 0.95, 0.99], default=0.99
            )
        if self.variant == "ghost":
            kwargs["virtual_batch_size"] = hp.Choice(
                "virtual_batch_size", [8, 16, 32, 64, 128], default=32
            )
        model = build_normalized_mlp(
            self.variant,
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            hidden_units=[units] * self.depth,
            **kwargs,
        )
        return compile_classifier(model, lr)
