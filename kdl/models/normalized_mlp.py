"""An MLP with one batch-norm variant after every hidden layer.

`build_normalized_mlp(variant, ...)` is the model of `recipes/batchnorm.py`:
the same multilayer perceptron with no normalization, Keras batch norm,
Keras's own batch renorm (`BatchNormalization(renorm=True)`), kdl's
`BatchRenormalization` or kdl's `GhostBatchNormalization`, so that the
variants compare like with like.
"""

import keras

from kdl import _validation
from kdl.layers import BatchRenormalization
from kdl.layers import GhostBatchNormalization

MLP_NORM_VARIANTS = ("none", "bn", "renorm", "keras_renorm", "ghost")


def _norm_layer(variant, momentum, virtual_batch_size, renorm_options, name):
    if variant == "bn":
        return keras.layers.BatchNormalization(momentum=momentum, name=name)
    if variant == "keras_renorm":
        return keras.layers.BatchNormalization(
            momentum=momentum, renorm=True, name=name, **renorm_options
        )
    if variant == "renorm":
        return BatchRenormalization(
            momentum=momentum, name=name, **renorm_options
        )
    return GhostBatchNormalization(
        virtual_batch_size, momentum=momentum, name=name
    )


def build_normalized_mlp(
    variant,
    input_shape=(28, 28, 1),
    num_classes=10,
    hidden_units=(100, 100),
    momentum=0.99,
    virtual_batch_size=32,
    renorm_options=None,
):
    """Flatten, then (Dense-norm-ReLU) per hidden layer, then Dense logits.

    Hidden Dense layers followed by a normalization have no bias (beta
    replaces it); with `variant="none"` they keep it. Normalization layers
    are named `norm0`, `norm1`, ...

    Args:
        variant: one of `MLP_NORM_VARIANTS`: `"none"`, `"bn"`
            (`keras.layers.BatchNormalization`), `"renorm"`
            (`kdl.layers.BatchRenormalization`, its default schedule unless
            `renorm_options` says otherwise), `"keras_renorm"`
            (`keras.layers.BatchNormalization(renorm=True)`, Keras's
            defaults: no clipping of `r` and `d` unless `renorm_options`
            gives `renorm_clipping`) or `"ghost"`
            (`kdl.layers.GhostBatchNormalization`).
        input_shape: shape of one example (flattened first).
        num_classes: output logits (train with `from_logits=True`).
        hidden_units: sizes of the hidden layers (non-empty).
        momentum: momentum of the moving statistics (float in [0, 1)).
        virtual_batch_size: the ghost batch size (`"ghost"` only).
        renorm_options: extra arguments of the renorm layer (`"renorm"`:
            e.g. `rmax`, `warmup_steps`; `"keras_renorm"`: e.g.
            `renorm_clipping`, `renorm_momentum`).

    Returns:
        An uncompiled functional `keras.Model` named `mlp_<variant>`.

    Example:
        >>> model = build_normalized_mlp("renorm", hidden_units=(100, 100))
        >>> kdl.models.compile_classifier(model)
    """
    variant = _validation.one_of("variant", variant, MLP_NORM_VARIANTS)
    num_classes = _validation.positive_integer("num_classes", num_classes)
    hidden_units = _validation.integer_list("hidden_units", hidden_units)
    momentum = _validation.rate("momentum", momentum)
    virtual_batch_size = _validation.positive_integer(
        "virtual_batch_size", virtual_batch_size
    )
    renorm_options = dict(renorm_options or {})
    if renorm_options and variant not in ("renorm", "keras_renorm"):
        raise ValueError(
            "`renorm_options` applies to the renorm variants only. Received: "
            f"renorm_options={renorm_options}, variant={variant!r}"
        )
    inputs = keras.Input(tuple(input_shape))
    x = keras.layers.Flatten()(inputs)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(
            units, use_bias=variant == "none", name=f"dense{i}"
        )(x)
        if variant != "none":
            x = _norm_layer(
                variant,
                momentum,
                virtual_batch_size,
                renorm_options,
                f"norm{i}",
            )(x)
        x = keras.layers.ReLU()(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"mlp_{variant}")
