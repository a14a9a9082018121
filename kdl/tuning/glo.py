"""KerasTuner HyperModel for GLO (Generative Latent Optimization)."""

import keras_tuner

from kdl.models import build_glo
from kdl.models.glo_builders import GLO_LOSSES

DEFAULTS = {
    "latent_dim": 32,
    "filters": 32,
    "learning_rate": 1e-3,
    "code_learning_rate": 1e-2,
    "loss": "lap1",
}


class GLOHyperModel(keras_tuner.HyperModel):
    """Searches GLO's code size, generator width, learning rates and loss.

    Hyperparameters (defaults = the recipe's flags): `latent_dim`
    (16/32/64), `filters` (32/64), `learning_rate` (1e-4..1e-2, log),
    `code_learning_rate` (1e-3..1e-1, log), `loss` (`l2`/`lap1`). Compare
    trials on the `mse` metric (training reconstruction MSE): the losses
    differ in scale. Codes start random (the PCA init depends on
    `latent_dim`; the recipe compares it separately).

    Args:
        num_examples: training images (table rows).
        image_shape: `(H, W, C)`.
        latent_dim, filters, learning_rate, code_learning_rate, loss: the
            defaults of the search space.
        projection: `"ball"`, `"sphere"` or `"none"` (fixed).
        levels: Lap1 pyramid levels (fixed).
    """

    def __init__(
        self,
        num_examples,
        image_shape=(28, 28, 1),
        latent_dim=DEFAULTS["latent_dim"],
        filters=DEFAULTS["filters"],
        learning_rate=DEFAULTS["learning_rate"],
        code_learning_rate=DEFAULTS["code_learning_rate"],
        loss=DEFAULTS["loss"],
        projection="ball",
        levels=3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if loss not in GLO_LOSSES:
            raise ValueError(
                f"Unknown loss. Expected one of {list(GLO_LOSSES)}. "
                f"Received: loss={loss!r}"
            )
        self.num_examples = int(num_examples)
        self.image_shape = tuple(image_shape)
        self.defaults = {
            "latent_dim": int(latent_dim),
            "filters": int(filters),
            "learning_rate": float(learning_rate),
            "code_learning_rate": float(code_learning_rate),
            "loss": loss,
        }
        self.projection = projection
        self.levels = int(levels)

    def build(self, hp):
        d = self.defaults
        latent_values = sorted({16, 32, 64, d["latent_dim"]})
        filter_values = sorted({32, 64, d["filters"]})
        latent_dim = hp.Choice(
            "latent_dim", latent_values, default=d["latent_dim"]
        )
        filters = hp.Choice("filters", filter_values, default=d["filters"])
        learning_rate = hp.Float(
            "learning_rate",
            min(1e-4, d["learning_rate"]),
            max(1e-2, d["learning_rate"]),
            sampling="log",
            default=d["learning_rate"],
        )
        code_learning_rate = hp.Float(
            "code_learning_rate",
            min(1e-3, d["code_learning_rate"]),
            max(1e-1, d["code_learning_rate"]),
            sampling="log",
            default=d["code_learning_rate"],
        )
        loss = hp.Choice("loss", list(GLO_LOSSES), default=d["loss"])
        return build_glo(
            self.num_examples,
            self.image_shape,
            latent_dim=latent_dim,
            filters=filters,
            projection=self.projection,
            loss=loss,
            learning_rate=learning_rate,
            code_learning_rate=code_learning_rate,
            levels=self.levels,
        )
