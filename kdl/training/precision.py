"""Mixed-precision policy from a name."""

import keras

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def set_precision(precision="float32"):
    """Sets the global Keras dtype policy; returns the previous policy name.

    Under `mixed_float16`, `model.compile` wraps the optimizer in a
    `LossScaleOptimizer` automatically (Keras 3 does this itself).
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"Unknown precision. Expected one of {list(PRECISIONS)}. "
            f"Received: precision={precision!r}"
        )
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(precision)
    return previous
