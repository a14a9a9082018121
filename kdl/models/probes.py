"""Evaluating learned features: linear and k-NN probes, on one layer or
several, and few-label fine-tuning."""

import keras
import numpy as np

from kdl import _validation
from kdl.models.convnets import build_softmax_classifier


def _num_classes(num_classes, *labels):
    if num_classes is None:
        return int(max(np.max(y) for y in labels)) + 1
    return int(num_classes)


def _matrix(name, features):
    features = np.asarray(features, "float32")
    if features.ndim < 1 or not len(features):
        raise ValueError(
            f"`{name}` must hold at least one example. "
            f"Received: {name} of shape {features.shape}"
        )
    return features.reshape(len(features), -1)


def encode_features(encoder, x, batch_size=512):
    """`encoder.predict(x)` (inference mode), flattened to float32 rows."""
    features = encoder.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(features, dict):
        return {k: _matrix(k, v) for k, v in features.items()}
    return _matrix("features", features)


def logistic_regression(
    train_features,
    y_train,
    test_features,
    y_test,
    epochs=30,
    batch_size=256,
    learning_rate=1e-2,
    num_classes=None,
    verbose=0,
):
    """Multinomial logistic regression on fixed features; train/test acc.

    The features are standardised with the training mean and std, then a
    `Dense(num_classes)` softmax layer is trained with Adam (Keras `fit`,
    shuffled minibatches) on the training features.

    Args:
        train_features, test_features: `(N, ...)` arrays (flattened).
        y_train, y_test: int labels.
        epochs, batch_size, learning_rate: the training.
        num_classes: number of classes (default: largest label + 1).
        verbose: `fit` verbosity.

    Returns:
        A dict with `train_accuracy` and `test_accuracy` (floats).
    """
    f_train = _matrix("train_features", train_features)
    f_test = _matrix("test_features", test_features)
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
    )
    probe.fit(
        f_train,
        np.asarray(y_train),
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

    Features are computed once (`encoder.predict`, inference mode), then
    `logistic_regression` (standardised features, a softmax layer trained
    with Adam) is fitted on them. The encoder is not changed.

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
    return logistic_regression(
        encode_features(encoder, x_train),
        y_train,
        encode_features(encoder, x_test),
        y_test,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        num_classes=num_classes,
        verbose=verbose,
    )


def knn_predict(
    train_features, y_train, query_features, k=10, center=True, chunk=1024
):
    """Labels of `query_features` by a vote of their `k` nearest neighbours.

    Neighbours are the `k` training examples of highest cosine similarity
    (computed on features centred by the training mean when `center`,
    since ReLU features all share one positive direction). Each neighbour
    gives one vote to its label; a tie between labels goes to the one
    whose tied neighbours have the larger summed similarity. NumPy,
    `chunk` queries at a time (memory `chunk x N` floats).

    Args:
        train_features: `(N, ...)` features of labelled examples.
        y_train: their int labels `(N,)`.
        query_features: `(M, ...)` features to label.
        k: neighbours (1 <= k <= N).
        center: subtract the training mean before the cosine.
        chunk: queries per matrix product.

    Returns:
        `(M,)` int64 predicted labels.
    """
    f_train = _matrix("train_features", train_features)
    f_query = _matrix("query_features", query_features)
    y_train = np.asarray(y_train).reshape(-1).astype("int64")
    k = _validation.integer("k", k, min_value=1, max_value=len(f_train))
    chunk = _validation.positive_integer("chunk", chunk)
    if len(y_train) != len(f_train) or y_train.min() < 0:
        raise ValueError(
            "`y_train` needs one label >= 0 per training example "
            f"({len(f_train)}). Received: {len(y_train)} labels, smallest "
            f"{y_train.min()}"
        )
    if f_query.shape[1] != f_train.shape[1]:
        raise ValueError(
            "`query_features` must have the training features' width "
            f"{f_train.shape[1]}. Received: {f_query.shape[1]}"
        )

    def unit(f):
        f = f - mean
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)

    mean = f_train.mean(0) if center else 0.0
    bank, classes = unit(f_train), int(y_train.max()) + 1
    out = []
    for start in range(0, len(f_query), chunk):
        sims = unit(f_query[start : start + chunk]) @ bank.T
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        near_sims = np.take_along_axis(sims, near, axis=1)
        rows = np.repeat(np.arange(len(sims)), k)
        votes = np.zeros((len(sims), classes))
        summed = np.zeros((len(sims), classes))
        np.add.at(votes, (rows, y_train[near].ravel()), 1.0)
        np.add.at(summed, (rows, y_train[near].ravel()), near_sims.ravel())
        # |summed| <= votes <= k: the similarity only breaks vote ties.
        out.append(np.argmax(votes + summed / (2.0 * k + 1.0), axis=1))
    return np.concatenate(out)


def knn_accuracy(train_features, y_train, test_features, y_test, **kwargs):
    """Test accuracy of `knn_predict` (kwargs: `k`, `center`, `chunk`)."""
    predicted = knn_predict(train_features, y_train, test_features, **kwargs)
    return float(np.mean(predicted == np.asarray(y_test).reshape(-1)))


def layer_taps(model, layers, max_features=1024, name="taps"):
    """A model from `model`'s input to the flattened outputs of `layers`.

    A spatial output `(H, W, C)` is first average-pooled to at most
    `g x g` cells, `g` the largest with `g^2 C <= max_features` (at least
    1; windows of `ceil(H / g)` pixels, "same" padding), so that the
    layers' probes see comparable numbers of features, as probes of conv
    layers usually do (Zhang et al.'s ImageNet probes pool every layer to ~9K
    features). The taps share `model`'s weights (nothing is copied).

    Args:
        model: a functional or Sequential Keras model with a known input.
        layers: `{tap name: layer name}` (or a list of layer names).
        max_features: the largest pooled size of a spatial output (int
            >= 1); a layer with more channels is pooled to 1 x 1.
        name: the returned model's name.

    Returns:
        A `keras.Model` returning `{tap name: (batch, features)}`.
    """
    max_features = _validation.positive_integer("max_features", max_features)
    if not isinstance(layers, dict):
        layers = {str(n): n for n in layers}
    if not layers:
        raise ValueError(f"`layers` must not be empty. Received: {layers!r}")
    names = [layer.name for layer in model.layers]
    outputs = {}
    for tap, layer_name in layers.items():
        if layer_name not in names:
            raise ValueError(
                f"`layers` names a layer that {model.name} lacks. "
                f"Received: {tap}={layer_name!r}; layers: {names}"
            )
        out = model.get_layer(layer_name).output
        if len(out.shape) == 4:
            height, width, channels = (int(s) for s in out.shape[1:])
            grid = int(np.sqrt(max_features / channels))
            grid = min(max(grid, 1), max(height, width))
            window = (-(-height // grid), -(-width // grid))
            out = keras.layers.AveragePooling2D(window, padding="same")(out)
        outputs[tap] = keras.layers.Flatten()(out)
    return keras.Model(model.inputs, outputs, name=name)


def probe_layers(
    model,
    layers,
    train,
    test,
    max_features=1024,
    k=10,
    epochs=30,
    batch_size=1024,
    learning_rate=1e-2,
):
    """Linear and k-NN probes on several layers of a frozen `model`.

    Each layer's features (`layer_taps`) are computed once on `train` and
    `test`; `logistic_regression` and `knn_accuracy` (cosine, `k`
    neighbours) are fitted on the training features and scored on the
    test features. `model` is not changed.

    Args:
        model: the frozen network (functional or Sequential).
        layers: `{tap name: layer name}` (see `layer_taps`).
        train, test: `(images, int labels)` each.
        max_features: pooled size of the conv layers (see `layer_taps`).
        k: neighbours of the k-NN probe.
        epochs, batch_size, learning_rate: the logistic regression.

    Returns:
        `{tap name: {"linear": test acc., "linear_train": train acc.,
        "knn": test acc., "dim": feature count}}`.
    """
    taps = layer_taps(model, layers, max_features)
    f_train = encode_features(taps, train[0])
    f_test = encode_features(taps, test[0])
    out = {}
    for tap in layers:
        pair = (f_train[tap], train[1], f_test[tap], test[1])
        scores = logistic_regression(
            *pair,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
        )
        out[tap] = {
            "linear": scores["test_accuracy"],
            "linear_train": scores["train_accuracy"],
            "knn": knn_accuracy(*pair, k=k),
            "dim": int(f_train[tap].shape[1]),
        }
    return out


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
