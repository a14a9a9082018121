"""The batch-norm recipe's models and their KerasTuner HyperModel.

`build_convnet(variant, ...)` is the small convnet of
`recipes/batchnorm.py`, with one normalization variant in every block;
`build_sequence_classifier(cell, ...)` is its row-by-row image LSTM /
BN-LSTM; `BatchNormConvNetHyperModel` searches the convnet's settings for
one variant.
"""

import keras
import keras_tuner

from kdl.layers.batch_renormalization import BatchRenormalization
from kdl.layers.ghost_batch_normalization import GhostBatchNormalization
from kdl.layers.l1_batch_normalization import L1BatchNormalization
from kdl.layers.recurrent_bn import BNLSTMCell

VARIANTS = ("none", "bn", "renorm", "ghost", "l1")


def renorm_schedule(total_steps):
    """Ioffe 2017's rmax/dmax schedule scaled to a run of `total_steps`.

    The paper (ImageNet, 40k+ steps): plain BN for 5k steps, then `rmax`
    ramps 1 -> 3 until 40k and `dmax` 0 -> 5 until 25k. Here the same
    fractions of the run: warm-up 5/40, `rmax` reached at the end, `dmax`
    at 25/40.
    """
    total_steps = max(int(total_steps), 1)
    return {
        "warmup_steps": int(total_steps * 5 / 40),
        "rmax_steps": total_steps,
        "dmax_steps": int(total_steps * 25 / 40),
    }


def norm_layer(
    variant,
    momentum=0.99,
    virtual_batch_size=16,
    rmax=3.0,
    dmax=5.0,
    total_steps=40000,
    name=None,
):
    """A normalization layer for `variant` (one of `VARIANTS`), or None."""
    if variant not in VARIANTS:
        raise ValueError(
            f"Unknown variant. Expected one of {list(VARIANTS)}. "
            f"Received: variant={variant!r}"
        )
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


def build_convnet(
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

    Layers followed by a normalization have no bias (beta replaces it);
    with `variant="none"` they keep it.
    """
    use_bias = variant == "none"

    def norm(x, name):
        layer = norm_layer(
            variant,
            momentum=momentum,
            virtual_batch_size=virtual_batch_size,
            rmax=rmax,
            dmax=dmax,
            total_steps=total_steps,
            name=name,
        )
        return x if layer is None else layer(x)

    inputs = keras.Input(input_shape)
    x = inputs
    for i, width in enumerate((filters, 2 * filters)):
        x = keras.layers.Conv2D(
            width, 3, padding="same", use_bias=use_bias, name=f"conv{i}"
        )(x)
        x = norm(x, f"norm{i}")
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, use_bias=use_bias, name="dense")(x)
    x = norm(x, "norm_dense")
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"convnet_{variant}")


def build_sequence_classifier(
    cell="bnlstm",
    steps=28,
    features=28,
    units=64,
    num_classes=10,
    momentum=0.99,
):
    """Reads an image row by row (`steps` rows of `features` pixels).

    `cell="lstm"`: `keras.layers.LSTM`; `"bnlstm"`: `RNN(BNLSTMCell)` with
    statistics for each of the `steps` steps.
    """
    if cell not in ("lstm", "bnlstm"):
        raise ValueError(
            f"`cell` must be 'lstm' or 'bnlstm'. Received: cell={cell!r}"
        )
    inputs = keras.Input((steps, features))
    if cell == "lstm":
        x = keras.layers.LSTM(units, name="lstm")(inputs)
    else:
        x = keras.layers.RNN(
            BNLSTMCell(units, max_steps=steps, momentum=momentum),
            name="bnlstm",
        )(inputs)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"sequence_{cell}")


def compile_classifier(model, learning_rate=1e-3, jit_compile="auto"):
    """Adam, sparse categorical cross-entropy on logits, accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


class BatchNormConvNetHyperModel(keras_tuner.HyperModel):
    """Searches the convnet of `recipes/batchnorm.py` for one variant.

    Every default equals the recipe default: 16 filters, learning rate
    1e-3, normalization momentum 0.95, ghost batches of 16, `rmax` 3 and
    `dmax` 5 (only the hyperparameters the variant uses are registered).

    Args:
        variant: one of `VARIANTS`.
        total_steps: training steps of each trial (scales the renorm
            schedule, see `renorm_schedule`).
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
        if variant not in VARIANTS:
            raise ValueError(
                f"Unknown variant. Expected one of {list(VARIANTS)}. "
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
        model = build_convnet(
            self.variant,
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            total_steps=self.total_steps,
            **kwargs,
        )
        return compile_classifier(model, lr)
