"""Pretraining a backbone on a pretext task: data, model and scores.

The self-supervised comparisons (recipes/nat.py) pretrain one backbone in
several ways, then score each the same way: a linear probe on its frozen
features and fine-tuning of the whole net on few labels.
"""

import keras
import numpy as np

from kdl import _validation
from kdl.datasets.images import image_dataset
from kdl.datasets.images import normalize_images
from kdl.models.convnets import build_conv_autoencoder
from kdl.models.convnets import build_softmax_classifier
from kdl.models.nat import NAT
from kdl.models.probes import fine_tune_accuracy
from kdl.models.probes import linear_probe

PRETEXT_TASKS = ("nat", "autoencoder", "supervised")


def pretext_splits(
    data,
    train_size=None,
    test_size=None,
    curve_examples=10000,
    finetune_labels=1000,
    seed=0,
):
    """The images of a pretraining comparison and of its evaluations.

    Args:
        data: `((x, y), (x_test, y_test))` images (uint8 or float) and int
            labels, e.g. `kdl.datasets.load_images("fashion_mnist")`.
        train_size, test_size: keep the first N of each (None: all).
        curve_examples: training images of the probes during training.
        finetune_labels: labelled training images for fine-tuning.
        seed: seed of the random curve and fine-tuning subsets.

    Returns:
        A dict of float32 images in [0, 1] and int32 labels: "train"
        `(x, y)` and "test" `(x_test, y_test)`; and, each ending with the
        test set as `kdl.models.linear_probe` takes it, "probe" (all
        training images), "curve" and "few" (random training subsets of
        `curve_examples` and `finetune_labels` images).
    """
    train_size = _validation.positive_integer("train_size", train_size, True)
    test_size = _validation.positive_integer("test_size", test_size, True)
    curve_examples = _validation.positive_integer(
        "curve_examples", curve_examples
    )
    finetune_labels = _validation.positive_integer(
        "finetune_labels", finetune_labels
    )
    (x, y), (x_test, y_test) = data
    x = np.asarray(normalize_images(x[:train_size]))
    x_test = np.asarray(normalize_images(x_test[:test_size]))
    y = np.asarray(y[: len(x)], "int32")
    y_test = np.asarray(y_test[: len(x_test)], "int32")
    rng = np.random.RandomState(seed)
    curve = rng.permutation(len(x))[:curve_examples]
    few = rng.permutation(len(x))[:finetune_labels]
    return {
        "train": (x, y),
        "test": (x_test, y_test),
        "probe": (x, y, x_test, y_test),
        "curve": (x[curve], y[curve], x_test, y_test),
        "few": (x[few], y[few], x_test, y_test),
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
    reassign_every=1,
    width=16,
    learning_rate=1e-3,
    seed=None,
):
    """`backbone` in a compiled model that pretrains it by `task`.

    - "nat": `kdl.models.NAT` (noise as targets; no labels) over
      `num_examples` images with `feature_dim`-dimensional targets.
    - "autoencoder": `build_conv_autoencoder(backbone, width)`, MSE.
    - "supervised": `build_softmax_classifier(backbone)`, sparse
      cross-entropy and accuracy.

    All train with Adam at `learning_rate`; the backbone's weights are
    shared, so it can be probed afterwards. Build it in the strategy's
    scope. Feed it `pretext_dataset(task, ...)`.

    Returns:
        The compiled `keras.Model`.
    """
    task = _validation.one_of("task", task, PRETEXT_TASKS)
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


def evaluate_backbone(
    backbone, probe_data, finetune_data, probe_epochs=30, finetune_epochs=30
):
    """A backbone's linear-probe and fine-tuning test accuracies.

    Args:
        backbone: a model from images to feature vectors (left unchanged).
        probe_data: `(x_train, y_train, x_test, y_test)` for
            `kdl.models.linear_probe` on the frozen features.
        finetune_data: `(x_few, y_few, x_test, y_test)` for
            `kdl.models.fine_tune_accuracy` (a copy is fine-tuned).
        probe_epochs, finetune_epochs: the training of each.

    Returns:
        A dict: `probe` (test accuracy), `probe_train` (training accuracy
        of the probe) and `finetune` (test accuracy).
    """
    probe = linear_probe(backbone, *probe_data, epochs=probe_epochs)
    finetune = fine_tune_accuracy(
        backbone, *finetune_data, epochs=finetune_epochs
    )
    return {
        "probe": probe["test_accuracy"],
        "probe_train": probe["train_accuracy"],
        "finetune": finetune,
    }
