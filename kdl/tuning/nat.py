"""KerasTuner HyperModel for NAT (Noise As Targets), scored by a probe."""

import keras
import keras_tuner

from kdl.models import NAT
from kdl.models import linear_probe
from kdl.models import small_convnet

DEFAULTS = {
    "width": 16,
    "feature_dim": 64,
    "learning_rate": 1e-3,
    "reassign_every": 1,
}


class NATHyperModel(keras_tuner.HyperModel):
    """NAT with a small convnet; scored by the linear-probe accuracy.

    Hyperparameters (defaults = `recipes/nat.py` defaults): `width`
    (16/32/64), `feature_dim` (32/64/128), `learning_rate` (Adam, log
    1e-4..1e-2), `reassign_every` (1 = every batch, 3 = authors' code).

    `fit` trains NAT on the `(index, image)` data it is given, then fits a
    linear probe on the frozen backbone with `probe_data` and returns
    `{"probe_accuracy": ...}` (validation accuracy of the probe), so use
    `objective=keras_tuner.Objective("probe_accuracy", "max")`.

    Args:
        num_examples: number of NAT training examples.
        probe_data: `(x_train, y_train, x_val, y_val)` images and labels for
            the probe.
        input_shape: image shape.
        probe_epochs: probe training epochs.
    """

    def __init__(
        self,
        num_examples,
        probe_data,
        input_shape=(28, 28, 1),
        probe_epochs=10,
        name="nat",
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        self.num_examples = int(num_examples)
        self.probe_data = probe_data
        self.input_shape = tuple(input_shape)
        self.probe_epochs = int(probe_epochs)

    def build(self, hp):
        width = hp.Choice("width", [16, 32, 64], default=DEFAULTS["width"])
        feature_dim = hp.Choice(
            "feature_dim", [32, 64, 128], default=DEFAULTS["feature_dim"]
        )
        learning_rate = hp.Float(
            "learning_rate",
            1e-4,
            1e-2,
            sampling="log",
            default=DEFAULTS["learning_rate"],
        )
        reassign_every = hp.Choice(
            "reassign_every", [1, 3], default=DEFAULTS["reassign_every"]
        )
        model = NAT(
            small_convnet(self.input_shape, width),
            num_examples=self.num_examples,
            feature_dim=feature_dim,
            reassign_every=reassign_every,
        )
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        return model

    def fit(self, hp, model, *args, **kwargs):
        kwargs.pop("validation_data", None)
        model.fit(*args, **kwargs)
        x_train, y_train, x_val, y_val = self.probe_data
        scores = linear_probe(
            model.backbone,
            x_train,
            y_train,
            x_val,
            y_val,
            epochs=self.probe_epochs,
        )
        return {"probe_accuracy": scores["test_accuracy"]}
