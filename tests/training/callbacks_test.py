"""kdl.training.callbacks: the callbacks every recipe fit uses."""

import keras
import numpy as np
import pytest

from kdl import training


def test_standard_callbacks(tmp_path):
    callbacks = training.standard_callbacks(str(tmp_path))
    kinds = {type(c).__name__ for c in callbacks}
    assert {
        "BackupAndRestore",
        "TensorBoard",
        "CSVLogger",
        "TerminateOnNaN",
    } <= kinds
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    model.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=callbacks)
    rows = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    assert (tmp_path / "logs").is_dir()
    with pytest.raises(ValueError, match="output_dir"):
        training.standard_callbacks("")
