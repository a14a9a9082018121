"""KerasTuner HyperModel for NAT (Noise As Targets), scored by probes."""

import keras_tuner

from kdl.models import build_pretext_model
from kdl.models import evaluate_backbone
from kdl.models import small_convnet

DEFAULTS = {
    "width": 16,
    "feature_dim": 64,
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "reassign_every": 3,
}


class NATHyperModel(keras_tuner.HyperModel):
    """NAT with a small convnet; scored by its best layer's linear probe.

    Hyperparameters (defaults = `recipes/nat.py` defaults): `width`
    (8/16/32), `feature_dim` (the target dimension: 16/64/256),
    `optimizer` ("sgd" with momentum 0.9, as the paper, or "adam"),
    `learning_rate` (log 1e-4..1e-1), `reassign_every` (1 = every batch,
    the paper's Algorithm 1; 3 = the authors' code).

    `fit` trains NAT on the `(index, image)` data it is given, then probes
    the frozen backbone's layers (`kdl.models.evaluate_backbone`: linear
    and k-NN) with `probe_data` and returns `{"probe_accuracy": ...}`, the
    best layer's linear-probe validation accuracy, so use
    `objective=keras_tuner.Objective("probe_accuracy", "max")`.

    Args:
        num_examples: number of NAT training examples.
        probe_data: `(x_train, y_train, x_val, y_val)` images and labels for
            the probes.
        input_shape: image shape.
        probe_epochs: epochs of each linear probe.
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
        width = hp.Choice("width", [8, 16, 32], default=DEFAULTS["width"])
        feature_dim = hp.Choice(
            "feature_dim", [16, 64, 256], default=DEFAULTS["feature_dim"]
        )
        optimizer = hp.Choice(
            "optimizer", ["sgd", "adam"], default=DEFAULTS["optimizer"]
        )
        learning_rate = hp.Float(
            "learning_rate",
            1e-4,
            1e-1,
            sampling="log",
            default=DEFAULTS["learning_rate"],
        )
        reassign_every = hp.Choice(
            "reassign_every", [1, 3], default=DEFAULTS["reassign_every"]
        )
        return build_pretext_model(
            "nat",
            small_convnet(self.input_shape, width),
            num_examples=self.num_examples,
            feature_dim=feature_dim,
            reassign_every=reassign_every,
            learning_rate=learning_rate,
            optimizer=optimizer,
        )

    def fit(self, hp, model, *args, **kwargs):
        kwargs.pop("validation_data", None)
        model.fit(*args, **kwargs)
        x_train, y_train, x_val, y_val = self.probe_data
        scores = evaluate_backbone(
            model.backbone,
            (x_train, y_train),
            (x_val, y_val),
            epochs=self.probe_epochs,
        )
        best = max(layer["linear"] for layer in scores.values())
        return {"probe_accuracy": best}
