"""KerasTuner HyperModel for NAT, the small convnet backbone, linear probe."""

import keras
import keras_tuner
import numpy as np

from kdl.models.nat import NAT

DEFAULTS = {
    "width": 16,
    "feature_dim": 64,
    "learning_rate": 1e-3,
    "reassign_every": 1,
}


def small_convnet(input_shape=(28, 28, 1), width=32, name="backbone"):
    """The NAT recipe's small convnet: 3 conv blocks, global average pooling.

    `Conv(w) - BN - ReLU - MaxPool - Conv(2w) - BN - ReLU - MaxPool -
    Conv(4w) - BN - ReLU - GlobalAveragePooling`, giving `4 * width`
    features. BN momentum 0.9 so that the moving statistics keep up in
    short runs. Shared by NAT, the autoencoder, the supervised and the
    random-init baselines so that the probe compares like with like.
    """
    width = int(width)
    if width < 1:
        raise ValueError(f"`width` must be >= 1. Received: width={width}")
    layers = [keras.Input(shape=tuple(input_shape))]
    for i, filters in enumerate((width, 2 * width, 4 * width)):
        layers += [
            keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.ReLU(),
        ]
        if i < 2:
            layers.append(keras.layers.MaxPooling2D())
    layers.append(keras.layers.GlobalAveragePooling2D())
    return keras.Sequential(layers, name=name)


def linear_probe(
    encoder,
    x_train,
    y_train,
    x_test,
    y_test,
    epochs=30,
    batch_size=256,
    learning_rate=1e-2,
    num_classes=None,
    verbose=0,
):
    """Logistic regression on frozen `encoder` features; test accuracy.

    Features are computed once (`encoder.predict`, inference mode) and
    standardised with the training mean and std; a `Dense(num_classes)`
    softmax layer is trained with Adam on them. Returns a dict with
    `train_accuracy` and `test_accuracy`.
    """
    f_train = encoder.predict(x_train, batch_size=512, verbose=0)
    f_test = encoder.predict(x_test, batch_size=512, verbose=0)
    f_train = np.asarray(f_train, "float32").reshape(len(f_train), -1)
    f_test = np.asarray(f_test, "float32").reshape(len(f_test), -1)
    mean = f_train.mean(0)
    std = f_train.std(0) + 1e-6
    f_train = (f_train - mean) / std
    f_test = (f_test - mean) / std
    if num_classes is None:
        num_classes = int(max(np.max(y_train), np.max(y_test))) + 1
    probe = keras.Sequential(
        [
            keras.Input(shape=(f_train.shape[1],)),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    probe.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    probe.fit(
        f_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        verbose=verbose,
    )
    kernel, bias = probe.layers[-1].get_weights()

    def accuracy(features, labels):
        logits = features @ kernel + bias
        return float(np.mean(np.argmax(logits, 1) == np.asarray(labels)))

    return {
        "train_accuracy": accuracy(f_train, y_train),
        "test_accuracy": accuracy(f_test, y_test),
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
