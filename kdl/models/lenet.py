"""LeNet-5 (LeCun et al. 1998) with the lecture's pooling and dense options."""

import math

import keras

from kdl import _validation
from kdl.layers import FractionalMaxPooling2D
from kdl.layers import LowRankDense
from kdl.layers import LpPooling2D
from kdl.layers import StochasticPooling2D

LENET_POOLINGS = ("max", "avg", "lp", "stochastic", "fractional")
LENET_DENSES = ("dense", "low_rank")
LENET_FEATURE_LAYERS = ("c1", "s2", "c3", "s4")
# c1 keeps the size, s2 halves it, c3 (5x5 valid) takes 4, s4 halves it.
LENET_MIN_SIZE = 12


def _pool(kind, name, lp_p, fractional_ratio=math.sqrt(2)):
    if kind == "max":
        return keras.layers.MaxPooling2D(2, name=name)
    if kind == "avg":
        return keras.layers.AveragePooling2D(2, name=name)
    if kind == "lp":
        return LpPooling2D(lp_p, 2, normalize=True, name=name)
    if kind == "stochastic":
        return StochasticPooling2D(2, name=name)
    return FractionalMaxPooling2D(fractional_ratio, name=name)


def _dense(kind, units, activation, name, rank):
    if kind == "low_rank":
        return LowRankDense(units, rank, activation=activation, name=name)
    return keras.layers.Dense(units, activation=activation, name=name)


def build_lenet5(
    input_shape=(28, 28, 1),
    num_classes=10,
    pooling="max",
    dense="dense",
    rank=16,
    activation="tanh",
    lp_p=2.0,
    name="lenet5",
    fractional_ratio=math.sqrt(2),
):
    """LeNet-5: conv, pool, conv, pool, fc, fc, softmax.

    `c1`: 6 5x5 convolutions (padded "same", so a 28x28 input plays the
    role of the paper's 32x32 padded digit), `s2`: 2x2 pooling, `c3`: 16
    5x5 convolutions, `s4`: 2x2 pooling, `c5`: 120 units (a 5x5
    convolution over the 5x5 maps is a dense layer), `f6`: 84 units,
    `logits`: `num_classes` (softmax in the loss: train with
    `from_logits=True`). The paper's sparse C3 connection table, scaled
    tanh and RBF output are replaced by full connections, `activation` and
    a linear softmax layer, as in today's re-implementations.

    Args:
        input_shape: `(H, W, C)` with `H` and `W` at least
            `LENET_MIN_SIZE` (12: `c3` needs a 6x6 map after `s2`, and `s4`
            a 2x2 map after `c3`).
        num_classes: output logits.
        pooling: one of `LENET_POOLINGS`: `"max"`, `"avg"` (the paper's
            subsampling without its trainable scale), `"lp"`
            (`kdl.layers.LpPooling2D`), `"stochastic"`
            (`kdl.layers.StochasticPooling2D`; use with
            `activation="relu"`, it needs non-negative inputs) or
            `"fractional"` (`kdl.layers.FractionalMaxPooling2D` with
            `fractional_ratio`; not XLA-compilable).
        dense: `"dense"` or `"low_rank"` (`c5` and `f6` as
            `kdl.layers.LowRankDense` with `rank`).
        rank: rank of the low-rank layers.
        activation: hidden activation.
        lp_p: the exponent of Lp pooling.
        fractional_ratio: the fractional pooling ratio, in [1, 2]. The
            default sqrt(2) (Graham 2014) mixes intervals of lengths 1 and
            2 at random; an integer ratio such as 2.0 gives fixed intervals
            of exactly that length (plain max pooling).
        name: model name.

    Returns:
        An uncompiled `keras.Sequential`; feature layers are named
        `LENET_FEATURE_LAYERS` (`c1`, `s2`, `c3`, `s4`), the head `c5`, `f6`,
        `logits`.

    Reference:
        LeCun, Bottou, Bengio, Haffner, "Gradient-Based Learning Applied to
        Document Recognition", Proc. IEEE 86(11), 1998.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or any(
        d is None or d < LENET_MIN_SIZE for d in input_shape[:2]
    ):
        raise ValueError(
            "`input_shape` must be (H, W, C) with H and W >= "
            f"{LENET_MIN_SIZE} (LeNet-5's 5x5 c3 and 2x2 s4 need it). "
            f"Received: input_shape={input_shape}"
        )
    pooling = _validation.one_of("pooling", pooling, LENET_POOLINGS)
    dense = _validation.one_of("dense", dense, LENET_DENSES)
    num_classes = _validation.positive_integer("num_classes", num_classes)
    fractional_ratio = _validation.number(
        "fractional_ratio", fractional_ratio, 1.0, 2.0
    )

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(
                6, 5, padding="same", activation=activation, name="c1"
            ),
            _pool(pooling, "s2", lp_p, fractional_ratio),
            keras.layers.Conv2D(16, 5, activation=activation, name="c3"),
            _pool(pooling, "s4", lp_p, fractional_ratio),
            keras.layers.Flatten(name="flatten"),
            _dense(dense, 120, activation, "c5", rank),
            _dense(dense, 84, activation, "f6", rank),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name=name,
    )


def transfer_model(base, num_classes, freeze=LENET_FEATURE_LAYERS, name=None):
    """A new classifier on `base`'s layers for a new task (transfer).

    Reuses (shares) every layer of `base` up to `f6`, sets the layers named
    in `freeze` to `trainable=False`, and puts a fresh `logits` layer with
    `num_classes` outputs on top. With `freeze=LENET_FEATURE_LAYERS` only the
    fully connected head (`c5`, `f6`, new logits) is retrained; with
    `freeze=()` everything is fine-tuned.

    Note: the frozen layers are the base's own objects (shared weights):
    build a fresh `base` (or clone it) if the base must stay trainable.
    """
    names = [layer.name for layer in base.layers]
    unknown = sorted(set(freeze) - set(names))
    if unknown:
        raise ValueError(
            f"`freeze` names layers that `base` lacks: {unknown}. "
            f"Layers: {names}"
        )
    layers = [keras.Input(base.input_shape[1:])]
    for layer in base.layers:
        if layer.name == "logits":
            break
        layer.trainable = layer.name not in freeze
        layers.append(layer)
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers, name=name or f"{base.name}_transfer")
