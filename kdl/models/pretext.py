"""Pretraining a backbone on a pretext task: data, model and scores.

The self-supervised comparisons (recipes/nat.py) pretrain one backbone in
several ways, then score each the same way: linear and k-NN probes on the
frozen activations of several of its layers.
"""

import keras
import numpy as np

from kdl import _validation
from kdl.datasets.images import image_dataset
from kdl.datasets.images import normalize_images
from kdl.models.convnets import build_conv_autoencoder
from kdl.models.convnets import build_softmax_classifier
from kdl.models.nat import NAT
from kdl.models.probes import probe_layers

PRETEXT_TASKS = ("nat", "autoencoder", "supervised")
OPTIMIZERS = ("adam", "sgd")


def pretext_splits(
    data,
    train_size=None,
    test_size=None,
    probe_examples=None,
    curve_examples=2000,
    seed=0,
):
    """The images of a pretraining comparison and of its probes.

    Args:
        data: `((x, y), (x_test, y_test))` images (uint8 or float) and int
            labels, e.g. `kdl.datasets.load_images("fashion_mnist")`.
        train_size, test_size: keep the first N of each (None: all).
        probe_examples: labelled training images of the probes (a random
            subset; None or more than `train_size`: all).
        curve_examples: training and test images of the probes made
            during training (a random training subset, the first test
            images).
        seed: seed of the random subsets.

    Returns:
        A dict of float32 images in [0, 1] and int32 labels: "train"
        `(x, y)` (the pretraining set), "test" `(x_test, y_test)`, "probe"
        `(x_probe, y_probe)` (a subset of "train") and "curve"
        `(x, y, x_test, y_test)` as `kdl.models.linear_probe` (and
        `ProbeCurve`) take it.
    """
    train_size = _validation.positive_integer("train_size", train_size, True)
    test_size = _validation.positive_integer("test_size", test_size, True)
    probe_examples = _validation.positive_integer(
        "probe_examples", probe_examples, True
    )
    curve_examples = _validation.positive_integer(
        "curve_examples", curve_examples
    )
    (x, y), (x_test, y_test) = data
    x = np.asarray(normalize_images(x[:train_size]))
    x_test = np.asarray(normalize_images(x_test[:test_size]))
    y = np.asarray(y[: len(x)], "int32")
    y_test = np.asarray(y_test[: len(x_test)], "int32")
    rng = np.random.RandomState(seed)
    probe = rng.permutation(len(x))[:probe_examples]
    curve = rng.permutation(len(x))[:curve_examples]
    return {
        "train": (x, y),
        "test": (x_test, y_test),
        "probe": (x[probe], y[probe]),
        "curve": (
            x[curve],
            y[curve],
            x_test[:curve_examples],
            y_test[:curve_examples],
        ),
    }


def pretext_dataset(task, x, y=None, batch_size=256, augment=True, seed=0):
    """Shuffled batches of images for pretraining a backbone by `task`.

    Args:
        task: "nat" yields `(index, image)` (what `kdl.models.NAT` trains
            on), "autoencoder" `(image, image)`, "supervised"
            `(image, label)`.
        x: images `(N, H, W[, C])`, uint8 or float in [0, 1].
        y: int labels `(N,)`; needed by "supervised" only.
        batch_size: examples per batch.
        augment: random shifts and flips of the images, fresh each epoch.
        seed: seed of the shuffle and the augmentation.

    Returns:
        A batched `tf.data.Dataset`.

    Example:
        >>> ds = pretext_dataset("nat", x_train, batch_size=256)
        >>> nat_model.fit(ds, epochs=10)
    """
    task = _validation.one_of("task", task, PRETEXT_TASKS)
    if task == "supervised" and y is None:
        raise ValueError(
            "`y` (the labels) is needed when task='supervised'. "
            "Received: y=None"
        )
    ds = image_dataset(
        x,
        y if task == "supervised" else None,
        batch_size,
        augment=augment,
        flip=augment,
        with_index=task == "nat",
        seed=seed,
    )
    return ds.map(lambda image: (image, image)) if task == "autoencoder" else ds


def build_pretext_model(
    task,
    backbone,
    num_examples=None,
    feature_dim=64,
    reassign_every=3,
    width=16,
    learning_rate=1e-3,
    optimizer="adam",
    seed=None,
):
    """`backbone` in a compiled model that pretrains it by `task`.

    - "nat": `kdl.models.NAT` (noise as targets; no labels) over
      `num_examples` images with `feature_dim`-dimensional targets,
      reassigned during every `reassign_every`-th epoch.
    - "autoencoder": `build_conv_autoencoder(backbone, width)`, MSE.
    - "supervised": `build_softmax_classifier(backbone)`, sparse
      cross-entropy and accuracy.

    The backbone's weights are shared, so it can be probed afterwards.
    Build it in the strategy's scope. Feed it `pretext_dataset(task, ...)`.

    Args:
        optimizer: "adam" (Keras Adam) or "sgd" (SGD with momentum 0.9, as
            the NAT paper trains), at `learning_rate`.

    Returns:
        The compiled `keras.Model`.
    """
    task = _validation.one_of("task", task, PRETEXT_TASKS)
    optimizer = _validation.one_of("optimizer", optimizer, OPTIMIZERS)
    learning_rate = _validation.positive_number("learning_rate", learning_rate)
    if optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate, momentum=0.9)
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    if task == "nat":
        model = NAT(
            backbone,
            num_examples=num_examples,
            feature_dim=feature_dim,
            reassign_every=reassign_every,
            seed=seed,
        )
        model.compile(optimizer=optimizer)
    elif task == "autoencoder":
        model = build_conv_autoencoder(backbone, width)
        model.compile(optimizer=optimizer, loss="mse")
    else:
        model = build_softmax_classifier(backbone)
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return model


def convnet_taps(backbone):
    """The probe points of a convnet: `{"conv<i>": ..., "features": ...}`.

    `conv<i>` names the i-th `ReLU` layer of `backbone` (the i-th conv
    block's activations, before pooling; e.g. `conv1`..`conv3` of
    `kdl.models.small_convnet`), `features` its last layer (the feature
    vector that the pretext heads see).

    Returns:
        An ordered `{tap name: layer name}` for `kdl.models.layer_taps`.
    """
    relus = [
        layer.name
        for layer in backbone.layers
        if isinstance(layer, keras.layers.ReLU)
    ]
    taps = {f"conv{i + 1}": name for i, name in enumerate(relus)}
    return {**taps, "features": backbone.layers[-1].name}


def evaluate_backbone(backbone, train, test, layers=None, **probe_kwargs):
    """A frozen backbone's linear and k-NN probe accuracies, per layer.

    Args:
        backbone: a convnet from images to feature vectors (unchanged).
        train, test: `(images, int labels)` of the probes.
        layers: tap names of `convnet_taps(backbone)` to probe (default:
            all of them).
        **probe_kwargs: `max_features`, `k`, `epochs`, `batch_size`,
            `learning_rate` of `kdl.models.probe_layers`.

    Returns:
        `{layer: {"linear", "linear_train", "knn", "dim"}}` (see
        `probe_layers`), in the order of `layers`.
    """
    taps = convnet_taps(backbone)
    layers = list(taps) if layers is None else list(layers)
    unknown = [name for name in layers if name not in taps]
    if unknown or not layers:
        raise ValueError(
            f"`layers` must be a non-empty list of {list(taps)}. "
            f"Received: layers={layers}"
        )
    chosen = {name: taps[name] for name in layers}
    return probe_layers(backbone, chosen, train, test, **probe_kwargs)


def probe_scores(results, probe="linear"):
    """One probe's scores by layer and method, over seeds.

    Args:
        results: `{method: [evaluate_backbone result per seed]}`.
        probe: the score to collect ("linear", "knn" or "linear_train").

    Returns:
        `{layer: {method: [score per seed]}}`, layers in their order.
    """
    out = {}
    for method, runs in results.items():
        for layer in runs[0]:
            out.setdefault(layer, {})[method] = [r[layer][probe] for r in runs]
    return out


def best_layers(scores):
    """Each method's best layer: `{method: (mean score, layer)}`.

    Args:
        scores: `{layer: {method: [score per seed]}}` (`probe_scores`).

    Returns:
        For each method, the layer of highest mean score (over seeds) and
        that mean (a tie goes to the earlier layer).
    """
    means = {}
    for layer, by_method in scores.items():
        for method, values in by_method.items():
            means.setdefault(method, []).append((float(np.mean(values)), layer))
    return {
        method: max(pairs, key=lambda pair: pair[0])
        for method, pairs in means.items()
    }
