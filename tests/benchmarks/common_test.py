"""benchmarks/common.py: interleaving, per-repeat ratios, publishing."""

import importlib.util
import json
import pathlib

import keras
import pytest
from absl import flags

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


def test_backends_are_checked_and_children_measure_their_own():
    assert common.check_backends(["TensorFlow", " jax"]) == [
        "tensorflow",
        "jax",
    ]
    for bad in ([], ["torch"], ["jax", "jax"]):
        with pytest.raises(ValueError, match="backends="):
            common.check_backends(bad)
    current = keras.backend.backend()
    other = "jax" if current == "tensorflow" else "tensorflow"
    assert common.child_backend([current]) == current
    with pytest.raises(ValueError, match="backends="):
        common.child_backend([other])
    with pytest.raises(ValueError, match="backends="):
        common.child_backend([current, other])


def test_flag_args_give_the_command_line_of_the_named_flags():
    values = flags.FlagValues()
    flags.DEFINE_list("parts", ["a"], "", flag_values=values)
    flags.DEFINE_integer("steps", 30, "", flag_values=values)
    flags.DEFINE_bool("quick", True, "", flag_values=values)
    flags.DEFINE_bool("publish", False, "", flag_values=values)
    values(["prog", "--parts=x,y", "--steps=3", "--noquick", "--publish"])
    args = common.flag_args(values, ("parts", "steps", "quick"))
    assert args == ["--parts=x,y", "--steps=3", "--noquick"]


def _child_result(backend, goal_met):
    stats = {"median": 2.0, "min": 1.0, "max": 3.0}
    return {
        "backend": backend,
        "rows": [
            common.headline("a / b", stats, ">= 1.5", goal_met),
            common.headline("c / d", stats),
        ],
        "details": {"who": backend},
        "versions": {
            "keras_backend": backend,
            **({"jax": "0.1"} if backend == "jax" else {}),
        },
        "wall_seconds": 3.0,
        "cpu_seconds": 4.0,
    }


def test_merge_labels_rows_by_backend_and_keeps_their_goals():
    results = {"jax": _child_result("jax", False)}
    results["tensorflow"] = _child_result("tensorflow", True)
    rows, details, info = common.merge_backends(results)
    # TensorFlow first whatever order the children ran in.
    assert [(r["backend"], r["what"], r["goal"], r["met"]) for r in rows] == [
        ("tensorflow", "TensorFlow: a / b", ">= 1.5", True),
        ("tensorflow", "TensorFlow: c / d", None, None),
        ("jax", "JAX: a / b", ">= 1.5", False),
        ("jax", "JAX: c / d", None, None),
    ]
    assert all((r["median"], r["min"], r["max"]) == (2, 1, 3) for r in rows)
    assert details == {
        "tensorflow": {"who": "tensorflow"},
        "jax": {"who": "jax"},
    }
    assert info["jax"] == {
        "versions": {"keras_backend": "jax", "jax": "0.1"},
        "wall_seconds": 3.0,
        "cpu_seconds": 4.0,
    }


def test_published_provenance_adds_the_children(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "ROOT", str(tmp_path))
    results = {b: _child_result(b, True) for b in ("tensorflow", "jax")}
    rows, details, info = common.merge_backends(results)
    clock = training.Clock()
    path = common.write("x", rows, details, 5, clock, True, backends=info)
    data = json.loads(open(path).read())
    prov = data["provenance"]
    assert prov["backends"] == info
    assert prov["cpu_seconds"] >= 8.0  # both children's 4 s, plus ours
    assert prov["versions"]["keras_backend"] == "tensorflow,jax"
    assert prov["versions"]["jax"] == "0.1"
    assert data["headline"] == rows and data["details"] == details
    # scripts/report.py shows each backend's rows, named, with the total CPU.
    report = _report()
    monkeypatch.setattr(report, "ROOT", str(tmp_path))
    table = report.benchmarks_table().splitlines()
    assert [line.split(" | ")[1] for line in table[2:]] == [
        "TensorFlow: a / b",
        "TensorFlow: c / d",
        "JAX: a / b",
        "JAX: c / d",
    ]
    assert f"{prov['cpu_seconds'] / 60:.1f} min CPU" in table[2]


def _report():
    path = pathlib.Path(__file__).parents[2] / "scripts" / "report.py"
    spec = importlib.util.spec_from_file_location("report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHILD = """
import json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if "=" in a)
if os.environ["KERAS_BACKEND"] == args.get("fail"):
    sys.exit(3)
with open(args["child_json"], "w") as f:
    json.dump({"backend": os.environ["KERAS_BACKEND"], "argv": sys.argv[1:],
               "rows": [], "details": {}, "versions": {}}, f)
"""


def test_run_backends_runs_one_child_process_per_backend(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    results = common.run_backends(str(script), ["jax", "tensorflow"], ["--n=1"])
    assert list(results) == ["jax", "tensorflow"]
    for backend, result in results.items():
        assert result["backend"] == backend  # KERAS_BACKEND was set
        assert result["argv"][:2] == ["--n=1", f"--backends={backend}"]
        assert result["argv"][2].startswith("--child_json=")
        assert result["wall_seconds"] > 0 and result["cpu_seconds"] >= 0
    with pytest.raises(RuntimeError, match="jax run of child.py failed"):
        common.run_backends(str(script), ["tensorflow", "jax"], ["--fail=jax"])
