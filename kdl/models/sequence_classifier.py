"""An LSTM or BN-LSTM that reads an image row by row and classifies it."""

import keras

from kdl import _validation
from kdl.layers import BNLSTMCell

SEQUENCE_CELLS = ("lstm", "bnlstm")


def build_sequence_classifier(
    cell="bnlstm",
    steps=28,
    features=28,
    units=64,
    num_classes=10,
    momentum=0.99,
    image_input=False,
):
    """Reads `steps` rows of `features` pixels; logits from the last state.

    Args:
        cell: `"lstm"` (`keras.layers.LSTM`) or `"bnlstm"`
            (`keras.layers.RNN(kdl.layers.BNLSTMCell)` with statistics for
            each of the `steps` time steps; Cooijmans et al. 2016). On JAX
            the BN-LSTM is unrolled: its per-step moving statistics are
            variable assignments, which a `jax.lax.scan` cannot make.
        steps: sequence length (image rows).
        features: features per step (pixels per row).
        units: recurrent units (int >= 1).
        num_classes: output logits (train with `from_logits=True`).
        momentum: momentum of the BN-LSTM's moving statistics.
        image_input: take one-channel images `(batch, steps, features, 1)`
            (what `kdl.datasets.image_dataset` yields) instead of
            sequences `(batch, steps, features)`.

    Returns:
        An uncompiled functional `keras.Model` named `sequence_<cell>`.
    """
    cell = _validation.one_of("cell", cell, SEQUENCE_CELLS)
    units = _validation.positive_integer("units", units)

    inputs = keras.Input(
        (steps, features, 1) if image_input else (steps, features)
    )
    x = (
        keras.layers.Reshape((steps, features))(inputs)
        if image_input
        else inputs
    )
    if cell == "lstm":
        x = keras.layers.LSTM(int(units), name="lstm")(x)
    else:
        x = keras.layers.RNN(
            BNLSTMCell(int(units), max_steps=steps, momentum=momentum),
            unroll=keras.backend.backend() == "jax",
            name="bnlstm",
        )(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"sequence_{cell}")
