"""A compiled GLO (or its DCGAN baseline) in one call, and GLO's losses."""

import keras

from kdl.losses import LaplacianPyramidLoss
from kdl.models.dcgan import DCGAN
from kdl.models.dcgan import build_dcgan_discriminator
from kdl.models.glo import GLO
from kdl.models.glo import build_dcgan_generator
from kdl.optimizers import RowSparseAdam

GLO_LOSSES = ("l2", "lap1")


def make_glo_loss(name, levels=3):
    """`"l2"` -> mean squared error, `"lap1"` -> `LaplacianPyramidLoss`.

    Args:
        name: one of `GLO_LOSSES`.
        levels: pyramid levels of the Lap1 loss.
    """
    if name == "lap1":
        return LaplacianPyramidLoss(levels=levels)
    if name == "l2":
        return keras.losses.MeanSquaredError()
    raise ValueError(
        f"Unknown loss. Expected one of {list(GLO_LOSSES)}. "
        f"Received: loss={name!r}"
    )


def build_glo(
    num_examples,
    image_shape=(28, 28, 1),
    latent_dim=32,
    filters=32,
    projection="ball",
    loss="lap1",
    learning_rate=1e-3,
    code_learning_rate=1e-2,
    levels=3,
):
    """A compiled `GLO`: DCGAN generator (Adam) + codes (row-sparse Adam).

    Args:
        num_examples: training images (rows of the code table).
        image_shape: `(H, W, C)` of the images.
        latent_dim: code size.
        filters: generator width (`build_dcgan_generator`).
        projection: codes on the unit `"ball"`, `"sphere"`, or `"none"`.
        loss: `"lap1"` (Laplacian pyramid L1, the paper's) or `"l2"`.
        learning_rate: generator Adam learning rate.
        code_learning_rate: the codes' `RowSparseAdam` learning rate.
        levels: Lap1 pyramid levels.

    Returns:
        A compiled `kdl.models.GLO`; fit it on `(index, image)` batches.
    """
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
        loss=make_glo_loss(loss, levels),
    )
    return model


def build_dcgan(
    image_shape=(28, 28, 1),
    latent_dim=32,
    filters=32,
    prior="sphere",
    learning_rate=2e-4,
    seed=None,
):
    """A compiled `DCGAN` on GLO's generator: the GLO paper's GAN baseline.

    The generator is `build_dcgan_generator(latent_dim, image_shape,
    filters)`, exactly GLO's (`build_glo`); the discriminator
    `build_dcgan_discriminator(image_shape, filters)`. Both train with
    `Adam(learning_rate, beta_1=0.5)` (the DCGAN paper's 2e-4, 0.5).

    Args:
        image_shape: `(H, W, C)` of the images.
        latent_dim: code size.
        filters: width of both networks.
        prior: the codes' prior, `"sphere"` (default: where GLO's
            projected codes live) or `"normal"`.
        learning_rate: Adam's learning rate for both networks.
        seed: seed of the training codes.

    Returns:
        A compiled `kdl.models.DCGAN`; fit it on images.
    """
    image_shape = tuple(image_shape)
    model = DCGAN(
        build_dcgan_generator(latent_dim, image_shape, filters=filters),
        build_dcgan_discriminator(image_shape, filters=filters),
        prior=prior,
        seed=seed,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(
            learning_rate, beta_1=0.5
        ),
    )
    return model
