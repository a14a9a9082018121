"""KerasTuner HyperModel for `recipes/batchnorm.py` (its convnet)."""

import keras_tuner

from kdl.models import NORM_VARIANTS
from kdl.models import build_normalized_convnet
from kdl.models import compile_classifier


class BatchNormConvNetHyperModel(keras_tuner.HyperModel):
    """Searches the convnet of `recipes/batchnorm.py` for one variant.

    The model is `kdl.models.build_normalized_convnet(variant, ...)`,
    compiled with `kdl.models.compile_classifier`. Every default equals the
    recipe default: 16 filters, learning rate 1e-3, normalization momentum
    0.95, ghost batches of 16, `rmax` 3 and `dmax` 5 (only the
    hyperparameters the variant uses are registered).

    Args:
        variant: one of `kdl.models.NORM_VARIANTS`.
        total_steps: training steps of each trial (scales the renorm
            schedule, see `kdl.models.renorm_schedule`).
        input_shape, num_classes: of the images.
    """

    def __init__(
        self,
        variant="bn",
        total_steps=40000,
        input_shape=(28, 28, 1),
        num_classes=10,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if variant not in NORM_VARIANTS:
            raise ValueError(
                f"Unknown variant. Expected one of {list(NORM_VARIANTS)}. "
                f"Received: variant={variant!r}"
            )
        self.variant = variant
        self.total_steps = int(total_steps)
        self.input_shape = tuple(input_shape)
        self.num_classes = int(num_classes)

    def build(self, hp):
        kwargs = {}
        kwargs["filters"] = hp.Choice("filters", [8, 16, 32], default=16)
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        if self.variant != "none":
            kwargs["momentum"] = hp.Choice(
                "momentum", [0.9, 0.95, 0.99], default=0.95
            )
        if self.variant == "ghost":
            kwargs["virtual_batch_size"] = hp.Choice(
                "virtual_batch_size", [4, 8, 16, 32, 64], default=16
            )
        if self.variant == "renorm":
            kwargs["rmax"] = hp.Float("rmax", 1.0, 5.0, default=3.0)
            kwargs["dmax"] = hp.Float("dmax", 0.0, 10.0, default=5.0)
        model = build_normalized_convnet(
            self.variant,
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            total_steps=self.total_steps,
            **kwargs,
        )
        return compile_classifier(model, lr)
