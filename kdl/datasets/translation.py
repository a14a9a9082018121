"""The seq2seq tf.data pipeline of translation pairs (teacher forcing).

`translation_dataset` turns (source, target) pairs, vectorized by a
`kdl.datasets.TranslationVectorizers`, into `((source_ids, target_in_ids),
target_out_ids)` batches for teacher forcing.
"""

import numpy as np
import tensorflow as tf


def teacher_forcing(source_ids, target_ids, start_id=2, end_id=3):
    """Source/target id sequences -> `((source, target_in), target_out)`.

    target_in = [start_id] + target, target_out = target + [end_id]: the
    decoder reads target_in and is trained to predict target_out. Works on
    1-D tensors, eagerly or inside `Dataset.map`.
    """
    target_ids = tf.convert_to_tensor(target_ids)
    start = tf.fill([1], tf.cast(start_id, target_ids.dtype))
    end = tf.fill([1], tf.cast(end_id, target_ids.dtype))
    target_in = tf.concat([start, target_ids], axis=0)
    target_out = tf.concat([target_ids, end], axis=0)
    return (source_ids, target_in), target_out


def reverse_source_ids(source_ids, pad_id=0):
    """Reverses the tokens of each source, keeping the padding at the end.

    Sutskever et al. (2014) feed the source sentence reversed ("c b a" for
    "a b c") to a seq2seq model without attention: the first source words
    then lie close to the first target words. Only the real tokens are
    reversed: `[a, b, c, 0, 0]` -> `[c, b, a, 0, 0]`, so the padding mask
    (`ids != pad_id`) is unchanged. Works on a 1-D unpadded sequence or a
    2-D `(batch, length)` batch padded at the end with `pad_id`, eagerly or
    inside `Dataset.map`.

    Args:
        source_ids: int tensor `(length,)` or `(batch, length)`.
        pad_id: the padding id (trailing positions with it stay in place).

    Returns:
        The reversed ids, same shape and dtype.
    """
    ids = tf.convert_to_tensor(source_ids)
    if ids.shape.rank not in (1, 2):
        raise ValueError(
            "`source_ids` must be 1-D or 2-D. "
            f"Received: source_ids with shape {ids.shape}"
        )
    batch = ids if ids.shape.rank == 2 else ids[None]
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(batch, pad_id), tf.int64), 1)
    out = tf.reverse_sequence(batch, lengths, seq_axis=1, batch_axis=0)
    return out if ids.shape.rank == 2 else out[0]


def translation_dataset(
    pairs,
    vectorizers,
    batch_size=64,
    max_length=50,
    shuffle=True,
    seed=0,
    bucket_boundaries=None,
    drop_remainder=False,
    with_weights=False,
    reverse_source=False,
):
    """Teacher-forcing batches of a translation corpus, bucketed by length.

    All pairs are vectorized once (eagerly, in memory); pairs whose source
    or target has more than `max_length` tokens are dropped; then shuffle
    (reshuffled every epoch), bucketing by length
    (`Dataset.bucket_by_sequence_length`: batches of similar lengths,
    padded with 0 to the longest in the batch) and prefetch.

    Element structure (what `kdl.models.Seq2SeqAttention` consumes):

        ((source_ids, target_in_ids), target_out_ids)

    * source_ids: int32 `(batch, S)`, 0 = padding;
    * target_in_ids: int32 `(batch, T)` = `[start] + target`, 0-padded;
    * target_out_ids: int32 `(batch, T)` = `target + [end]`, 0-padded;
    * with `with_weights=True` a third entry, float32 `(batch, T)`
      sample weights = 1 where target_out_ids != 0 (the padding mask).

    `vectorizers.start_id` / `end_id` (2 / 3) begin and end decoding;
    `vectorizers.decode_target(ids)` turns ids back into strings.

    Args:
        pairs: a list of (source, target) strings.
        vectorizers: a `TranslationVectorizers` (build it on the training
            pairs with `TranslationVectorizers.adapt` and reuse it for
            valid/test).
        batch_size: pairs per batch.
        max_length: the longest source/target kept, in tokens (before
            [start]/[end]).
        shuffle: shuffle every epoch (deterministic given `seed`).
        seed: the shuffle seed.
        bucket_boundaries: length boundaries of the buckets (default:
            multiples of 8 up to `max_length`); [] disables bucketing.
        drop_remainder: drop partial batches.
        with_weights: add the padding mask as sample weights.
        reverse_source: feed each source reversed, before padding
            (`reverse_source_ids`; Sutskever et al. 2014).

    Returns:
        A `tf.data.Dataset` of the elements described above.
    """
    if int(batch_size) < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    if int(max_length) < 1:
        raise ValueError(
            f"`max_length` must be >= 1. Received: max_length={max_length}"
        )
    pairs = list(pairs)
    if not pairs:
        raise ValueError("`pairs` is empty.")
    src = tf.cast(vectorizers.source([s for s, _ in pairs]), tf.int32)
    tgt = tf.cast(vectorizers.target([t for _, t in pairs]), tf.int32)
    keep = np.flatnonzero(
        (src.row_lengths().numpy() <= max_length)
        & (tgt.row_lengths().numpy() <= max_length)
        & (src.row_lengths().numpy() > 0)
    )
    if not len(keep):
        raise ValueError(
            f"No pair is at most max_length={max_length} tokens long."
        )
    src = tf.gather(src, keep)
    tgt = tf.gather(tgt, keep)
    ds = tf.data.Dataset.from_tensor_slices((src, tgt))
    if shuffle:
        ds = ds.shuffle(len(keep), seed=seed, reshuffle_each_iteration=True)
    start_id, end_id = vectorizers.start_id, vectorizers.end_id
    order = tf.reverse if reverse_source else lambda s, _: s
    ds = ds.map(
        lambda s, t: teacher_forcing(order(s, [0]), t, start_id, end_id),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if bucket_boundaries is None:
        bucket_boundaries = list(range(8, int(max_length) + 2, 8))
    bucket_boundaries = [int(b) for b in bucket_boundaries]
    if bucket_boundaries:
        ds = ds.bucket_by_sequence_length(
            lambda x, y: tf.maximum(tf.shape(x[0])[0], tf.shape(y)[0]),
            bucket_boundaries=bucket_boundaries,
            bucket_batch_sizes=[int(batch_size)] * (len(bucket_boundaries) + 1),
            drop_remainder=drop_remainder,
        )
    else:
        ds = ds.padded_batch(int(batch_size), drop_remainder=drop_remainder)
    if with_weights:
        ds = ds.map(
            lambda x, y: (x, y, tf.cast(tf.not_equal(y, 0), tf.float32)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)
