"""kdl.training.recipe: setup, cached arms and finish."""

import json
import os

import keras
import pytest
from absl import flags

from kdl import training


def _values(tmp_path, *argv):
    values = flags.FlagValues()
    training.define_common_flags(values, output_dir=str(tmp_path / "run"))
    flags.DEFINE_integer("units", 100, "", flag_values=values)
    values(["prog", *argv])
    return values


def test_setup_applies_flags_and_smoke(tmp_path):
    values = _values(
        tmp_path, "--seed=3", "--precision=mixed_float16", "--smoke"
    )
    env = training.setup(values, smoke_overrides={"units": 4})
    assert os.path.isdir(env.output_dir)
    assert env.path("sub", "a.json").endswith("run/sub/a.json")
    assert os.path.isdir(os.path.dirname(env.path("sub", "a.json")))
    assert keras.config.dtype_policy().name == "mixed_float16"
    assert env.settings.units == 4 and values.units == 100
    assert env.smoke and env.seed == 3
    values.output_dir = ""
    with pytest.raises(ValueError, match="output_dir"):
        training.setup(values)


def test_cached_arms_follow_every_flag_and_finish_writes(tmp_path):
    calls = []

    def arm():
        calls.append(1)
        return {"acc": 0.9}

    env = training.setup(_values(tmp_path))
    assert env.cached("a", arm, seed=0) == {"acc": 0.9}
    assert env.cached("a", arm, seed=0) == {"acc": 0.9}
    assert env.cached("a", arm, seed=1) == {"acc": 0.9}
    assert len(calls) == 2
    env2 = training.setup(_values(tmp_path, "--units=7"))
    env2.cached("a", arm, seed=1)
    assert len(calls) == 3  # a changed flag never reuses a stale result
    out = tmp_path / "copy.json"
    env3 = training.setup(_values(tmp_path, f"--results_json={out}"))
    results = env3.finish({"readme_rows": []}, seeds=[0, 1, 2])
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk == json.loads(out.read_text())
    assert on_disk["provenance"]["seeds"] == [0, 1, 2]
    assert on_disk["provenance"]["arm_seconds"] == []
    env3.cached("a", arm, seed=1)
    env3.cached("a", arm, seed=1)  # reused: the time it took is reported
    arm_seconds = env3.finish({})["provenance"]["arm_seconds"]
    assert [(a["arm"], a["reused"]) for a in arm_seconds] == [
        ("a", False),
        ("a", True),
    ]
    assert arm_seconds[0]["wall_seconds"] == arm_seconds[1]["wall_seconds"]
    assert arm_seconds[0]["wall_seconds"] >= 0
    assert on_disk["settings"]["units"] == 100
    assert "output_dir" not in on_disk["settings"]
    assert results["smoke"] is False


def test_finish_copies_the_named_figures_beside_results_json(tmp_path):
    out = tmp_path / "results" / "exp.json"
    env = training.setup(_values(tmp_path, f"--results_json={out}"))
    with open(env.path("curve.png"), "wb") as f:
        f.write(b"\x89PNG fake")
    with open(env.path("other.png"), "wb") as f:
        f.write(b"not named")
    env.finish({"figures": ["curve.png"]})
    folder = tmp_path / "results" / "figures" / "exp"
    assert sorted(os.listdir(folder)) == ["curve.png"]
    assert (folder / "curve.png").read_bytes() == b"\x89PNG fake"
    env_no_json = training.setup(_values(tmp_path))
    env_no_json.finish({"figures": ["missing.png"]})  # nothing to publish
    with pytest.raises(FileNotFoundError):
        env.finish({"figures": ["missing.png"]})


def test_cached_ignore_leaves_selection_flags_out_of_the_key(tmp_path):
    calls = []

    def arm():
        calls.append(1)
        return {"acc": 0.5}

    training.setup(_values(tmp_path)).cached("a", arm, ignore=("units",))
    env = training.setup(_values(tmp_path, "--units=7"))
    env.cached("a", arm, ignore=("units",))
    assert len(calls) == 1
    env.cached("a", arm)
    assert len(calls) == 2
    with pytest.raises(ValueError, match="bogus"):
        env.cached("a", arm, ignore=("bogus",))
