"""The output size shared by the 2-D pooling layers."""


def pooled_size(size, window, stride, padding):
    """Pooled length of one spatial axis (`None` stays `None`)."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    return (size - window) // stride + 1
