"""The computation dtype of statistics and contexts: float32 or wider."""

import keras


def at_least_float32(dtype):
    """`"float64"` for float64, else `"float32"` (half precision upcast).

    Not `keras.backend.result_type(dtype, "float32")`: on JAX, Keras
    promotes float64 with float32 to float32.
    """
    if keras.backend.standardize_dtype(dtype) == "float64":
        return "float64"
    return "float32"
