"""kdl.training.precision: dtype policies by name."""

import keras
import pytest

from kdl import training


def test_set_precision():
    previous = training.set_precision("mixed_bfloat16")
    assert previous == "float32"
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    layer = keras.layers.Dense(2)
    assert layer.compute_dtype == "bfloat16"
    with pytest.raises(ValueError, match="precision='fp8'"):
        training.set_precision("fp8")
