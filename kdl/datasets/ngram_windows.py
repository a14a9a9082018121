"""(context, next token) pairs of a token stream, for n-gram models."""

import numpy as np
import tensorflow as tf

from kdl import _validation


def ngram_windows(ids, order, pad_id=None):
    """The n-gram windows of token ids: `order-1` context ids and the next.

    Works eagerly and inside `tf.data.Dataset.map` (TF ops only), on one
    sequence `(T,)` or a batch `(..., T)` (windows along the last axis).
    With `pad_id`, the sequence is first left-padded with `order-1` copies
    of it, so every token is a target (the first ones with a padded
    context); without it only complete windows are made.

    Args:
        ids: int tensor `(..., T)`.
        order: the n of the n-grams (int >= 2): contexts have `order-1` ids.
        pad_id: the id placed before the sequence (e.g. the `<eos>` id),
            or None.

    Returns:
        `(contexts, targets)`: `contexts` `(..., W, order-1)` and `targets`
        `(..., W)` in the dtype of `ids`, with `W = T` when padded and
        `W = max(T - order + 1, 0)` otherwise.

    Example:

    >>> contexts, targets = ngram_windows([4, 5, 6, 7], order=3)
    >>> contexts.numpy(), targets.numpy()
    (array([[4, 5], [5, 6]], dtype=int32), array([6, 7], dtype=int32))
    """
    order = _validation.integer("order", order, min_value=2)
    pad_id = _validation.non_negative_integer("pad_id", pad_id, allow_none=True)
    ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise ValueError(
            f"`ids` must be integer token ids. Received: ids.dtype={ids.dtype}"
        )
    if ids.shape.rank == 0:
        raise ValueError(
            "`ids` must have at least one axis (the sequence). "
            f"Received: ids.shape={ids.shape}"
        )
    if pad_id is not None:
        pad_shape = tf.concat([tf.shape(ids)[:-1], [order - 1]], axis=0)
        ids = tf.concat(
            [tf.fill(pad_shape, tf.cast(pad_id, ids.dtype)), ids], -1
        )
    frames = tf.signal.frame(ids, order, 1, axis=-1)
    return frames[..., :-1], frames[..., -1]


def ngram_dataset(
    ids,
    order,
    batch_size,
    pad_id=None,
    shuffle=False,
    seed=None,
    drop_remainder=False,
):
    """A `tf.data.Dataset` of (context, next token) batches of a stream.

    Every position of the stream gives one example (see `ngram_windows`):
    the `order-1` ids before it and the id itself, to train a feed-forward
    n-gram model such as `kdl.models.FeedForwardLM` with `fit`.

    Args:
        ids: 1-D int array of token ids (the whole stream).
        order: the n of the n-grams (int >= 2).
        batch_size: examples per batch (positive int).
        pad_id: left-pad the stream with this id so that its first
            `order-1` tokens are targets too (None: complete windows only).
        shuffle: shuffle all examples, anew every epoch.
        seed: the shuffle seed (int or None).
        drop_remainder: drop the last, smaller batch.

    Returns:
        A `tf.data.Dataset` of `(contexts, targets)`, int32
        `(batch, order-1)` and `(batch,)`, with known cardinality.
    """
    order = _validation.integer("order", order, min_value=2)
    batch_size = _validation.positive_integer("batch_size", batch_size)
    shuffle = _validation.boolean("shuffle", shuffle)
    drop_remainder = _validation.boolean("drop_remainder", drop_remainder)
    seed = _validation.integer("seed", seed, allow_none=True)
    array = np.asarray(ids)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            "`ids` must be a 1-D array of integer token ids. Received: ids "
            f"with shape {array.shape} and dtype {array.dtype}"
        )
    contexts, targets = ngram_windows(array.astype(np.int32), order, pad_id)
    if int(tf.size(targets)) == 0:
        raise ValueError(
            f"Too few tokens ({array.size}) for order={order} without "
            f"padding: need at least {order}."
        )
    dataset = tf.data.Dataset.from_tensor_slices((contexts, targets))
    if shuffle:
        dataset = dataset.shuffle(
            int(tf.size(targets)), seed=seed, reshuffle_each_iteration=True
        )
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)
