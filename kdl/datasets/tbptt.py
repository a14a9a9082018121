"""Token streams cut into batches for truncated backpropagation through time."""

import numpy as np
import tensorflow as tf


def tbptt_batches(ids, batch_size, seq_len):
    """The (x, y) arrays of `tbptt_dataset`, as NumPy.

    Returns:
        x, y: int32 arrays of shape (num_batches, batch_size, seq_len);
        y is x shifted by one token.
    """
    ids = np.asarray(ids).reshape(-1)
    batch_size, seq_len = int(batch_size), int(seq_len)
    if batch_size < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    if seq_len < 1:
        raise ValueError(f"`seq_len` must be >= 1. Received: seq_len={seq_len}")
    row_len = (len(ids) - 1) // batch_size
    num_batches = row_len // seq_len
    if num_batches < 1:
        raise ValueError(
            f"Too few tokens ({len(ids)}) for batch_size={batch_size} and "
            f"seq_len={seq_len}: need at least {batch_size * seq_len + 1}."
        )
    used = num_batches * seq_len
    starts = np.arange(batch_size) * row_len
    cols = np.arange(used)
    x = ids[starts[:, None] + cols[None, :]].astype(np.int32)
    y = ids[starts[:, None] + cols[None, :] + 1].astype(np.int32)
    # (batch, batches, seq) -> (batches, batch, seq).
    x = x.reshape(batch_size, num_batches, seq_len).transpose(1, 0, 2)
    y = y.reshape(batch_size, num_batches, seq_len).transpose(1, 0, 2)
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def tbptt_dataset(ids, batch_size, seq_len):
    """A `tf.data.Dataset` of (x, y) batches laid out for truncated BPTT.

    The token stream is cut into `batch_size` contiguous rows of equal
    length (the tail that does not fill a whole row is dropped); batch k
    holds columns [k * seq_len, (k + 1) * seq_len) of every row. Row i of
    batch k+1 therefore continues exactly where row i of batch k ended, so
    a stateful RNN (`stateful=True`, fixed batch size) carries its state
    across batches. y is x shifted by one token. Every batch is full; the
    order is fixed (do not shuffle it). Reset the RNN states between
    epochs.

    Args:
        ids: 1-D int array of token ids.
        batch_size: the number of parallel rows.
        seq_len: the number of time steps per batch (the BPTT length).

    Returns:
        A `tf.data.Dataset` of `(x, y)`, both int32 `(batch_size, seq_len)`,
        with known cardinality `(len(ids) - 1) // batch_size // seq_len`.
    """
    x, y = tbptt_batches(ids, batch_size, seq_len)
    return tf.data.Dataset.from_tensor_slices((x, y)).prefetch(tf.data.AUTOTUNE)
