"""kdl.training.cache: arms reused only while their whole config holds."""

import json

from kdl import training


def _counting():
    calls = []

    def fn():
        calls.append(1)
        return {"score": 0.5 + len(calls), "curve": (1, 2)}

    return fn, calls


def test_reuses_same_config_and_reruns_changed_config(tmp_path):
    fn, calls = _counting()
    first = training.cached_run(str(tmp_path), {"lr": 0.1, "seed": 0}, fn)
    again = training.cached_run(str(tmp_path), {"seed": 0, "lr": 0.1}, fn)
    assert first == again == {"score": 1.5, "curve": [1, 2]}
    assert len(calls) == 1
    changed = training.cached_run(str(tmp_path), {"lr": 0.2, "seed": 0}, fn)
    assert len(calls) == 2 and changed["score"] == 2.5


def test_torn_or_edited_file_is_recomputed(tmp_path, capsys):
    fn, calls = _counting()
    training.cached_run(str(tmp_path), {"a": 1}, fn)
    path = tmp_path / "result.json"
    record = json.loads(path.read_text())
    record["result"]["score"] = 99.0  # edited by hand: hash no longer holds
    path.write_text(json.dumps(record))
    assert training.cached_run(str(tmp_path), {"a": 1}, fn)["score"] == 2.5
    path.write_text(path.read_text()[:20])  # torn
    assert training.cached_run(str(tmp_path), {"a": 1}, fn)["score"] == 3.5
    assert "recomputing" in capsys.readouterr().out
    assert len(calls) == 3


def test_unfinished_arm_of_another_config_is_cleared(tmp_path):
    seen = []

    def fn():
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        (tmp_path / "backup").mkdir(exist_ok=True)
        raise KeyboardInterrupt  # killed mid-arm, backup left behind

    for config in ({"a": 1}, {"a": 1}, {"a": 2}):
        try:
            training.cached_run(str(tmp_path), config, fn)
        except KeyboardInterrupt:
            pass
    # Same config: the backup is kept for resuming; new config: cleared.
    assert seen == [
        ["started.json"],
        ["backup", "started.json"],
        ["started.json"],
    ]
