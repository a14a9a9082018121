"""A small convnet with one batch-norm variant in every block.

`build_normalized_convnet(variant, ...)` is the convnet of
`recipes/batchnorm.py`: the same architecture with no normalization, batch
norm, batch renorm, ghost batch norm or L1 batch norm, so that the variants
compare like with like. `normalization_layer` makes one such layer and
`renorm_schedule` scales Ioffe 2017's renorm schedule to a run's length.
"""

import keras

from kdl import _validation
from kdl.layers import BatchRenormalization
from kdl.layers import GhostBatchNormalization
from kdl.layers import L1BatchNormalization

NORM_VARIANTS = ("none", "bn", "renorm", "ghost", "l1")


def renorm_schedule(total_steps):
    """Ioffe 2017's rmax/dmax schedule scaled to a run of `total_steps`.

    The paper (ImageNet, 40k+ steps): plain BN for 5k steps, then `rmax`
    ramps 1 -> 3 until 40k and `dmax` 0 -> 5 until 25k. Here the same
    fractions of the run: warm-up 5/40, `rmax` reached at the end, `dmax`
    at 25/40.

    Args:
        total_steps: training steps of the run (int >= 1).

    Returns:
        A dict of `BatchRenormalization` arguments: `warmup_steps`,
        `rmax_steps`, `dmax_steps`.
    """
    total_steps = _validation.positive_integer("total_steps", total_steps)
    return {
        "warmup_steps": int(total_steps * 5 / 40),
        "rmax_steps": total_steps,
        "dmax_steps": int(total_steps * 25 / 40),
    }


def normalization_layer(
    variant,
    momentum=0.99,
    virtual_batch_size=16,
    rmax=3.0,
    dmax=5.0,
    total_steps=40000,
    name=None,
):
    """A normalization layer for `variant`, or None for `"none"`.

    Args:
        variant: one of `NORM_VARIANTS`: `"none"`, `"bn"`
            (`keras.layers.BatchNormalization`), `"renorm"`
            (`kdl.layers.BatchRenormalization` with `renorm_schedule`),
            `"ghost"` (`kdl.layers.GhostBatchNormalization` over ghost
            batches of `virtual_batch_size`) or `"l1"`
            (`kdl.layers.L1BatchNormalization`).
        momentum: momentum of the moving statistics.
        virtual_batch_size: the ghost batch size (`"ghost"` only).
        rmax, dmax: the renorm clipping bounds (`"renorm"` only).
        total_steps: the run's training steps (`"renorm"` only; scales
            the schedule).
        name: layer name.

    Returns:
        A Keras layer, or None.
    """
    variant = _validation.one_of("variant", variant, NORM_VARIANTS)
    if variant == "none":
        return None
    if variant == "bn":
        return keras.layers.BatchNormalization(momentum=momentum, name=name)
    if variant == "ghost":
        return GhostBatchNormalization(
            virtual_batch_size, momentum=momentum, name=name
        )
    if variant == "l1":
        return L1BatchNormalization(momentum=momentum, name=name)
    return BatchRenormalization(
        rmax=rmax,
        dmax=dmax,
        momentum=momentum,
        name=name,
        **renorm_schedule(total_steps),
    )


def build_normalized_convnet(
    variant,
    input_shape=(28, 28, 1),
    num_classes=10,
    filters=16,
    dense_units=64,
    momentum=0.99,
    virtual_batch_size=16,
    rmax=3.0,
    dmax=5.0,
    total_steps=40000,
):
    """Conv-norm-ReLU-pool x2, Dense-norm-ReLU, Dense (logits).

    The convolutions have `filters` and `2 * filters` 3x3 kernels ("same"
    padding), the hidden dense layer `dense_units`. Layers followed by a
    normalization have no bias (beta replaces it); with `variant="none"`
    they keep it. Normalization layers are named `norm0`, `norm1`,
    `norm_dense`.

    Args:
        variant: one of `NORM_VARIANTS` (see `normalization_layer`).
        input_shape: image shape `(H, W, C)`.
        num_classes: output logits (train with `from_logits=True`).
        filters: filters of the first convolution (int >= 1).
        dense_units: units of the hidden dense layer (int >= 1).
        momentum, virtual_batch_size, rmax, dmax, total_steps: passed to
            `normalization_layer`.

    Returns:
        An uncompiled functional `keras.Model` named `convnet_<variant>`.
    """
    filters = _validation.positive_integer("filters", filters)
    dense_units = _validation.positive_integer("dense_units", dense_units)

    use_bias = variant == "none"

    def norm(x, name):
        layer = normalization_layer(
            variant,
            momentum=momentum,
            virtual_batch_size=virtual_batch_size,
            rmax=rmax,
            dmax=dmax,
            total_steps=total_steps,
            name=name,
        )
        return x if layer is None else layer(x)

    inputs = keras.Input(tuple(input_shape))
    x = inputs
    for i, width in enumerate((int(filters), 2 * int(filters))):
        x = keras.layers.Conv2D(
            width, 3, padding="same", use_bias=use_bias, name=f"conv{i}"
        )(x)
        x = norm(x, f"norm{i}")
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(int(dense_units), use_bias=use_bias, name="dense")(x)
    x = norm(x, "norm_dense")
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"convnet_{variant}")
