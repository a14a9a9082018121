"""KerasTuner HyperModel for GLO, and the compiled GLO it searches over."""

import keras
import keras_tuner

from kdl.losses.laplacian_pyramid import LaplacianPyramidLoss
from kdl.models.glo import GLO
from kdl.models.glo import build_dcgan_generator
from kdl.optimizers.row_sparse import RowSparseAdam

LOSSES = ("l2", "lap1")

DEFAULTS = {
    "latent_dim": 32,
    "filters": 32,
    "learning_rate": 1e-3,
    "code_learning_rate": 1e-2,
    "loss": "lap1",
}


def make_loss(name, levels=3):
    """`"l2"` -> mean squared error, `"lap1"` -> `LaplacianPyramidLoss`."""
    if name == "lap1":
        return LaplacianPyramidLoss(levels=levels)
    if name == "l2":
        return keras.losses.MeanSquaredError()
    raise ValueError(
        f"Unknown loss. Expected one of {list(LOSSES)}. Received: loss={name!r}"
    )


def build_glo(
    num_examples,
    image_shape=(28, 28, 1),
    latent_dim=DEFAULTS["latent_dim"],
    filters=DEFAULTS["filters"],
    projection="ball",
    loss=DEFAULTS["loss"],
    learning_rate=DEFAULTS["learning_rate"],
    code_learning_rate=DEFAULTS["code_learning_rate"],
    levels=3,
):
    """A compiled GLO: DCGAN generator (Adam) + codes (lazy Adam)."""
    generator = build_dcgan_generator(
        latent_dim, image_shape=tuple(image_shape), filters=filters
    )
    model = GLO(
        generator,
        num_examples,
        latent_dim,
        projection=None if projection == "none" else projection,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        code_optimizer=RowSparseAdam(code_learning_rate),
        loss=make_loss(loss, levels),
    )
    return model


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
        if loss not in LOSSES:
            raise ValueError(
                f"Unknown loss. Expected one of {list(LOSSES)}. "
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
        loss = hp.Choice("loss", list(LOSSES), default=d["loss"])
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
