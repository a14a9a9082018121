"""benchmarks/scrn_speed.py: its rows from given timings, per backend (the
benchmark itself is run by hand, alone on the machine)."""

import importlib.util
import json
import pathlib

import pytest

_ROOT = pathlib.Path(__file__).parents[2]
_PATH = _ROOT / "benchmarks" / "scrn_speed.py"


def _module():
    spec = importlib.util.spec_from_file_location("scrn_speed", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Seconds per step: SCRN 1.0; LSTM 1.2-1.5 (ratio median 1.4, goal 1.3
# met); SimpleRNN 0.8-1.1 (median 0.9, goal 1.0 not met).
STEP = {
    "scrn": [1.0, 1.0, 1.0],
    "lstm": [1.5, 1.2, 1.4],
    "srn": [0.9, 1.1, 0.8],
    "rnn_scrncell": [2.0, 2.0, 2.0],
}


def _throughput(bench, backend):
    times = {
        (kind, jit): values
        for kind, values in STEP.items()
        for jit in bench.MODES[backend]
    }
    rows, ratios = bench.throughput_rows(times, backend, 32, 35, 200)
    return [(r["what"], r["median"], r["goal"], r["met"]) for r in rows]


def test_jax_throughput_has_the_goals_in_its_one_mode():
    bench = _module()
    head = "SCRN(100+40) / {} tokens/s, training step (embedding -> RNN"
    tail = " -> Dense(200), batch 32, T=35), default compile = jax.jit (XLA)"
    assert _throughput(bench, "jax") == [
        (head.format("LSTM(100)") + tail, pytest.approx(1.4), ">= 1.3", True),
        (head.format("SimpleRNN(100)") + tail, 0.9, ">= 1.0", False),
        (head.format("RNN(SCRNCell(100+40))") + tail, 2.0, None, None),
    ]


def test_tensorflow_throughput_goals_on_the_default_mode_only():
    bench = _module()
    rows = _throughput(bench, "tensorflow")
    assert [(goal, met) for _, _, goal, met in rows] == [
        (">= 1.3", True),
        (">= 1.0", False),
        (None, None),
    ] + [(None, None)] * 3
    assert all(w.endswith("no XLA on CPU") for w, *_ in rows[:3])
    assert all(w.endswith("), XLA") for w, *_ in rows[3:])


def _scaling(bench, backend, lengths, short, long, batch=32):
    times = {}
    for kind, jit in bench.SCALING[backend]:
        times[(kind, jit, lengths[0])] = short
        times[(kind, jit, lengths[1])] = long
    rows, ratios = bench.scaling_rows(times, backend, batch, lengths)
    return rows, ratios


def test_scaling_goal_is_on_each_backends_default_mode():
    bench = _module()
    # Ratios 10, 13, 11: median 11 <= 12 for 8x longer sequences.
    rows, ratios = _scaling(
        bench, "jax", [1024, 8192], [1.0, 1.0, 1.0], [10.0, 13.0, 11.0]
    )
    assert [(r["what"], r["median"], r["goal"], r["met"]) for r in rows] == [
        (
            "SCRN(100+40) forward + backward time, T=8192 / T=1024 "
            "(batch 32, jax.jit (XLA))",
            11.0,
            "<= 12",
            True,
        )
    ]
    assert len(ratios) == 2  # SimpleRNN in the details only
    # 4x longer: the goal scales to 12 * 4 / 8 = 6.
    rows, _ = _scaling(bench, "jax", [1000, 4000], [1.0] * 3, [7.0] * 3)
    assert (rows[0]["goal"], rows[0]["met"]) == ("<= 6", False)
    rows, ratios = _scaling(
        bench, "tensorflow", [1024, 8192], [1.0] * 3, [9.0] * 3
    )
    assert [(r["goal"], r["met"]) for r in rows] == [
        ("<= 12", True),
        (None, None),
    ]
    assert rows[0]["what"].endswith("(batch 32, graph, no XLA)")
    assert rows[1]["what"].endswith("(batch 32, XLA)")
    assert len(ratios) == 3


def test_tensorflow_rows_read_as_the_published_ones():
    """The TF rows keep the text of benchmarks/results/scrn_speed.json (a
    TF-only file, or the "TensorFlow: " rows of a merged one)."""
    bench = _module()
    data = json.loads(
        (_ROOT / "benchmarks/results/scrn_speed.json").read_text()
    )
    details = data["details"].get("tensorflow", data["details"])
    published = [
        row["what"].removeprefix("TensorFlow: ")
        for row in data["headline"]
        if row.get("backend", "tensorflow") == "tensorflow"
    ]
    throughput = details["throughput"]
    times = {
        (kind, jit): [1.0]
        for kind in bench.NAMES
        for jit in bench.MODES["tensorflow"]
    }
    rows, _ = bench.throughput_rows(
        times,
        "tensorflow",
        throughput["batch_size"],
        throughput["seq_len"],
        throughput["vocab_size"],
    )
    scaling = details["scaling"]
    more, _ = _scaling(
        bench,
        "tensorflow",
        scaling["lengths"],
        [1.0],
        [1.0],
        scaling["batch_size"],
    )
    assert [r["what"] for r in rows + more] == published
