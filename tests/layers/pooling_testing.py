"""NumPy references shared by the pooling layer tests."""

import numpy as np


def np_windows(x, pool, stride):
    """(B, H', W', K, C) windows of a 'valid' pooling, in NumPy."""
    b, h, w, c = x.shape
    oh = (h - pool[0]) // stride[0] + 1
    ow = (w - pool[1]) // stride[1] + 1
    out = np.zeros((b, oh, ow, pool[0] * pool[1], c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = x[
                :,
                i * stride[0] : i * stride[0] + pool[0],
                j * stride[1] : j * stride[1] + pool[1],
            ]
            out[:, i, j] = patch.reshape(b, -1, c)
    return out
