"""The lecture's hand-set 2-2-1 ReLU network that computes XOR."""

import numpy as np

from kdl.models.mlp import build_mlp

XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
XOR_TARGETS = np.array([0, 1, 1, 0], "float32")


def build_xor_net(name="xor"):
    """The 2-2-1 ReLU net with the lecture's weights; a logit output.

    Hidden layer: `W = [[1, -1], [-1, 1]]`, `b = [-1/2, -1/2]`; output:
    `w2 = [4, 4]`, `b2 = -1`. Its logits on `XOR_INPUTS` are
    `[-1, 1, 1, -1]`: positive exactly for the XOR-true points, which no
    linear model achieves.

    Returns:
        A `keras.Sequential` from `build_mlp` (layers `hidden_0`, `output`).
    """
    model = build_mlp((2,), [2], 1, activation="relu", name=name)
    model.get_layer("hidden_0").set_weights(
        [np.array([[1, -1], [-1, 1]], "float32"), np.full(2, -0.5, "float32")]
    )
    model.get_layer("output").set_weights(
        [np.array([[4], [4]], "float32"), np.array([-1], "float32")]
    )
    return model
