"""Evaluating learned features: linear probe and few-label fine-tuning."""

import keras
import numpy as np

from kdl.models.convnets import build_softmax_classifier


def _num_classes(num_classes, *labels):
    if num_classes is None:
        return int(max(np.max(y) for y in labels)) + 1
    return int(num_classes)


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
    """Logistic regression on frozen `encoder` features; train/test accuracy.

    Features are computed once (`encoder.predict`, inference mode) and
    standardised with the training mean and std; a `Dense(num_classes)`
    softmax layer is trained with Adam on them. The encoder is not changed.

    Args:
        encoder: a model mapping inputs to features (flattened if needed).
        x_train, y_train: probe training inputs and int labels.
        x_test, y_test: evaluation inputs and int labels.
        epochs, batch_size, learning_rate: the probe's training.
        num_classes: number of classes (default: largest label + 1).
        verbose: `fit` verbosity.

    Returns:
        A dict with `train_accuracy` and `test_accuracy` (floats).
    """
    f_train = encoder.predict(x_train, batch_size=512, verbose=0)
    f_test = encoder.predict(x_test, batch_size=512, verbose=0)
    f_train = np.asarray(f_train, "float32").reshape(len(f_train), -1)
    f_test = np.asarray(f_test, "float32").reshape(len(f_test), -1)
    mean = f_train.mean(0)
    std = f_train.std(0) + 1e-6
    f_train = (f_train - mean) / std
    f_test = (f_test - mean) / std
    probe = keras.Sequential(
        [
            keras.Input(shape=(f_train.shape[1],)),
            keras.layers.Dense(
                _num_classes(num_classes, y_train, y_test),
                activation="softmax",
            ),
        ]
    )
    probe.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    probe.fit(
        f_train, y_train, batch_size=batch_size, epochs=epochs, verbose=verbose
    )
    kernel, bias = probe.layers[-1].get_weights()

    def accuracy(features, labels):
        logits = features @ kernel + bias
        return float(np.mean(np.argmax(logits, 1) == np.asarray(labels)))

    return {
        "train_accuracy": accuracy(f_train, y_train),
        "test_accuracy": accuracy(f_test, y_test),
    }


def fine_tune_accuracy(
    backbone,
    x_train,
    y_train,
    x_test,
    y_test,
    epochs=30,
    batch_size=64,
    learning_rate=1e-3,
    num_classes=None,
    verbose=0,
):
    """Fine-tunes a copy of `backbone` + softmax on few labels; test accuracy.

    The backbone is copied (`keras.models.clone_model` with its weights),
    so the original is unchanged; all layers of the copy are trained with
    Adam, together with a new `Dense(num_classes)` softmax layer.

    Args:
        backbone: a model mapping images to feature vectors (with a known
            input shape).
        x_train, y_train: the few labelled training images.
        x_test, y_test: evaluation images and int labels.
        epochs, batch_size, learning_rate: the fine-tuning.
        num_classes: number of classes (default: largest label + 1).
        verbose: `fit` verbosity.

    Returns:
        The test accuracy (float).
    """
    copy = keras.models.clone_model(backbone)
    copy.set_weights(backbone.get_weights())
    model = build_softmax_classifier(
        copy,
        _num_classes(num_classes, y_train, y_test),
        input_shape=tuple(backbone.input_shape[1:]),
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=verbose
    )
    probs = model.predict(x_test, batch_size=512, verbose=0)
    return float(np.mean(np.argmax(probs, 1) == np.asarray(y_test)))
