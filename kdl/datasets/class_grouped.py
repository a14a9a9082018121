"""Non-i.i.d. minibatches: every batch drawn from a few classes only.

Ioffe 2017 (batch renormalization, sec. 4.3) trains on minibatches whose
examples come from few classes, the setting in which batch norm's
minibatch statistics differ from the population's and its inference
output no longer matches training.
"""

import numpy as np
import tensorflow as tf

from kdl import _validation
from kdl.datasets.images import normalize_images


def class_grouped_indices(labels, batch_size, classes_per_batch, seed=0):
    """One epoch of index batches, each from at most `classes_per_batch`
    classes; every example is in exactly one batch.

    Each class's examples are shuffled and cut into pieces of
    `batch_size // classes_per_batch`; a batch takes one piece from each of
    `classes_per_batch` different classes, drawn at random with
    probability proportional to the pieces a class has left (so the
    classes run out together), then more pieces of those classes while
    they fit (when fewer classes are left). A class's last piece may be
    shorter, so a few batches (about one per class) hold fewer than
    `batch_size` examples.

    Args:
        labels: `(N,)` integer class labels.
        batch_size: examples per batch (int >= `classes_per_batch`).
        classes_per_batch: the most classes in one batch (int >= 1).
        seed: seed of the shuffle (int >= 0): one seed, one epoch order.

    Returns:
        A list of int64 index arrays, one per batch, in training order.

    Example:
        >>> batches = class_grouped_indices(y, 32, 2, seed=0)
        >>> {len(set(y[b])) for b in batches}
        {1, 2}
    """
    batch_size = _validation.positive_integer("batch_size", batch_size)
    classes_per_batch = _validation.positive_integer(
        "classes_per_batch", classes_per_batch
    )
    seed = _validation.non_negative_integer("seed", seed)
    if classes_per_batch > batch_size:
        raise ValueError(
            "`classes_per_batch` must be <= `batch_size`. Received: "
            f"classes_per_batch={classes_per_batch}, batch_size={batch_size}"
        )
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    piece = batch_size // classes_per_batch
    pieces = {}  # class -> its pieces, last one first to pop
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        pieces[c] = np.array_split(members, range(piece, len(members), piece))
        pieces[c].reverse()
    batches = []
    while pieces:
        classes = np.array(list(pieces))
        left = np.array([len(pieces[c]) for c in classes], "float64")
        take = min(classes_per_batch, len(classes))
        chosen = rng.choice(classes, take, replace=False, p=left / left.sum())
        batch = [pieces[c].pop() for c in chosen]
        size, room = sum(map(len, batch)), True
        while room:  # more pieces of the chosen classes while they fit
            room = False
            for c in chosen:
                if pieces[c] and size + len(pieces[c][-1]) <= batch_size:
                    batch.append(pieces[c].pop())
                    size, room = size + len(batch[-1]), True
        for c in chosen:
            if not pieces[c]:
                del pieces[c]
        batches.append(np.concatenate(batch).astype("int64"))
    return batches


def class_grouped_batches(
    images, labels, batch_size, classes_per_batch, seed=0, epochs=1
):
    """A `tf.data` pipeline of non-i.i.d. batches (few classes per batch).

    Epoch `e` is `class_grouped_indices(labels, ..., seed=seed + e)`:
    reshuffled every epoch, every example once per epoch. Images are
    normalised like `kdl.datasets.image_dataset` (uint8 -> float32 [0, 1],
    with a channel axis).

    Args:
        images: `(N, H, W)` or `(N, H, W, C)` array (uint8 or float).
        labels: `(N,)` integer labels.
        batch_size, classes_per_batch: see `class_grouped_indices`.
        seed: seed of the first epoch (int >= 0).
        epochs: epochs in the dataset (int >= 1); `.repeat()` it for more.

    Returns:
        A `tf.data.Dataset` of `(images, labels)` batches.

    Example:
        >>> ds = class_grouped_batches(x, y, 32, 2, seed=0, epochs=3)
        >>> model.fit(ds)
    """
    epochs = _validation.positive_integer("epochs", epochs)
    seed = _validation.non_negative_integer("seed", seed)
    images, labels = np.asarray(images), np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(
            f"`labels` must have one entry per image ({len(images)}). "
            f"Received: len(labels)={len(labels)}"
        )
    batches = [
        b
        for e in range(epochs)
        for b in class_grouped_indices(
            labels, batch_size, classes_per_batch, seed + e
        )
    ]
    index = tf.RaggedTensor.from_row_lengths(
        np.concatenate(batches), [len(b) for b in batches]
    )
    images_t, labels_t = tf.constant(images), tf.constant(labels)
    ds = tf.data.Dataset.from_tensor_slices(index)
    ds = ds.map(
        lambda i: (
            normalize_images(tf.gather(images_t, i)),
            tf.gather(labels_t, i),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
