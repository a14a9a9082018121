"""A plain multilayer perceptron builder (the lectures' MLP)."""

import keras

from kdl import _validation


def build_mlp(
    input_shape,
    hidden_units=(64,),
    outputs=10,
    activation="relu",
    output_activation=None,
    kernel_initializer="glorot_uniform",
    name="mlp",
):
    """Returns a `keras.Sequential` MLP: Flatten -> Dense* -> Dense(outputs).

    Args:
        input_shape: shape of one example (without the batch axis).
        hidden_units: sizes of the hidden layers (may be empty: a linear or
            logistic model).
        outputs: units of the last layer.
        activation: hidden activation ("relu", "tanh", "sigmoid", ...).
        output_activation: activation of the last layer (None: logits).
        kernel_initializer: initializer for every kernel, e.g.
            `kdl.initializers.FanInUniform()` or "glorot_uniform".
    """
    hidden_units = _validation.integer_list(
        "hidden_units", hidden_units, allow_empty=True
    )
    outputs = _validation.positive_integer("outputs", outputs)
    init = keras.initializers.get(kernel_initializer)
    layers = [keras.Input(shape=tuple(input_shape)), keras.layers.Flatten()]
    for i, units in enumerate(hidden_units):
        layers.append(
            keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer=init.__class__.from_config(
                    init.get_config()
                ),
                name=f"hidden_{i}",
            )
        )
    layers.append(
        keras.layers.Dense(
            outputs,
            activation=output_activation,
            kernel_initializer=init.__class__.from_config(init.get_config()),
            name="output",
        )
    )
    return keras.Sequential(layers, name=name)
