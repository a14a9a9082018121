import keras
import numpy as np
import pytest

import kdl


def test_fan_in_uniform_bounds_and_spread():
    init = kdl.initializers.FanInUniform(seed=1)
    w = np.asarray(init((400, 300)))
    bound = 1 / np.sqrt(400)
    assert np.abs(w).max() <= bound
    # Uniform on [-b, b] has std b / sqrt(3).
    np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=0.02)
    conv = np.asarray(init((3, 3, 16, 8)))
    assert np.abs(conv).max() <= 1 / np.sqrt(3 * 3 * 16)
    assert np.abs(conv).max() > 0.9 / np.sqrt(3 * 3 * 16)


def test_fan_in_uniform_serializes():
    layer = keras.layers.Dense(
        2, kernel_initializer=kdl.initializers.FanInUniform(scale=2.0, seed=3)
    )
    revived = keras.layers.Dense.from_config(layer.get_config())
    assert isinstance(revived.kernel_initializer, kdl.initializers.FanInUniform)
    assert revived.kernel_initializer.scale == 2.0


def test_fan_in_uniform_rejects_bad_scale():
    with pytest.raises(ValueError, match="scale"):
        kdl.initializers.FanInUniform(scale=0)
