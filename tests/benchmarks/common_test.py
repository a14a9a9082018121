"""benchmarks/common.py: interleaving, per-repeat ratios, publishing."""

import json

import pytest

from benchmarks import common
from kdl import training


def test_every_variant_once_per_repeat_in_changing_orders():
    calls = []
    runs = {name: (lambda name=name: calls.append(name)) for name in "abcd"}
    times = common.interleaved(runs, repeats=6)
    assert {k: len(v) for k, v in times.items()} == dict.fromkeys("abcd", 6)
    orders = [tuple(calls[i : i + 4]) for i in range(0, 24, 4)]
    assert all(sorted(order) == list("abcd") for order in orders)
    assert len(set(orders)) > 1  # shuffled anew each repeat
    with pytest.raises(ValueError, match="repeats=0"):
        common.interleaved(runs, repeats=0)


def test_ratios_are_taken_per_repeat():
    times = {"ours": [2.0, 3.0, 12.0], "base": [1.0, 3.0, 4.0]}
    stats = common.ratio(times, "ours", "base")
    assert stats["per_repeat"] == [2.0, 1.0, 3.0]
    # The median of the per-repeat ratios, not the ratio of the medians
    # (3.0 / 3.0 = 1.0).
    assert (stats["median"], stats["min"], stats["max"]) == (2.0, 1.0, 3.0)
    row = common.headline("ours / base", stats, "<= 2", stats["median"] <= 2)
    assert row == {
        "what": "ours / base",
        "median": 2.0,
        "min": 1.0,
        "max": 3.0,
        "goal": "<= 2",
        "met": True,
    }


def test_publish_refuses_trials_and_writes_provenance(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "ROOT", str(tmp_path))
    stats = common.ratio({"a": [1.0] * 5, "b": [2.0] * 5}, "a", "b")
    rows = [common.headline("a / b", stats, "<= 1", True)]
    clock = training.Clock()
    with pytest.raises(ValueError, match="repeats=4"):
        common.write("x", rows, {}, 4, clock, publish=True)
    with pytest.raises(ValueError, match="quick"):
        common.write("x", rows, {}, 5, clock, publish=True, quick=True)
    with pytest.raises(ValueError, match="repeats=2"):
        common.check_publish(True, 2)
    common.check_publish(False, 1, quick=True)  # a trial may run
    assert common.write("x", rows, {}, 4, clock, publish=False) is None
    assert not (tmp_path / "benchmarks").exists()
    path = common.write("x", rows, {"k": 1}, 5, clock, publish=True)
    data = json.loads(open(path).read())
    assert path == str(tmp_path / "benchmarks" / "results" / "x.json")
    assert data["headline"] == rows and data["repeats"] == 5
    assert data["details"] == {"k": 1}
    assert {"command", "commit", "seeds"} <= set(data["provenance"])
