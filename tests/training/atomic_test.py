"""kdl.training.atomic: JSON conversion and writes that never tear."""

import json
import os

import numpy as np
import pytest

from kdl import training


def test_write_json_converts_numpy_and_non_finite(tmp_path):
    path = training.write_json(
        str(tmp_path / "sub" / "r.json"),
        {
            "a": np.float32(1.5),
            "b": np.arange(3),
            "c": float("nan"),
            "d": float("inf"),
            "e": (1, 2),
        },
    )
    assert json.loads(open(path).read()) == {
        "a": 1.5,
        "b": [0, 1, 2],
        "c": None,
        "d": "inf",
        "e": [1, 2],
    }


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = str(tmp_path / "r.json")
    training.write_json(path, {"v": 1})
    with pytest.raises(RuntimeError):
        with training.atomic_open(path) as f:
            f.write('{"v": 2, "torn')
            raise RuntimeError("killed mid-write")
    assert json.loads(open(path).read()) == {"v": 1}
    assert os.listdir(tmp_path) == ["r.json"]
    training.write_text(path, "x")
    assert open(path).read() == "x"
