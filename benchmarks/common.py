"""What every benchmark shares: interleaved repeats, ratios, results JSON.

A benchmark measures the ratio of a component against a named baseline in
one run: each repeat times every variant once, in a shuffled order, so
that slow phases of a shared machine hit all variants alike. Ratios are
taken per repeat (variant / baseline of the same repeat) and reported as
the median with [min, max]; the headline is the median, never a chosen
run. Results go to `benchmarks/results/<name>.json` with provenance, and
`scripts/report.py` puts the headline rows into the README.

Keras picks its backend once, at import (`KERAS_BACKEND`), so a process
measures one backend. A benchmark that reports several backends runs one
child process per backend (`run_backends`; the child writes its rows with
`write_child`), and the parent merges them (`merge_backends`) into one
results JSON: each row names its backend, ratios never mix backends.
"""

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np

from kdl import training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIN_REPEATS = 5
# The backends a benchmark can measure, in report order, and their labels.
BACKENDS = {"tensorflow": "TensorFlow", "jax": "JAX"}


def interleaved(runs, repeats, seed=0):
    """Times each callable of `runs` once per repeat, in a shuffled order.

    Args:
        runs: dict name -> callable with no arguments (already warmed up);
            its return value is ignored.
        repeats: number of rounds (>= 5 for a published figure).

    Returns:
        dict name -> list of seconds, one per repeat.
    """
    if repeats < 1:
        raise ValueError(f"`repeats` must be >= 1. Received: repeats={repeats}")
    order = list(runs)
    rng = random.Random(seed)
    times = {name: [] for name in runs}
    for _ in range(repeats):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return times


def summary(values):
    """median, min, max of a list of numbers."""
    values = np.asarray(values, dtype="float64")
    return {
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def ratio(times, numerator, denominator):
    """Per-repeat ratios `numerator / denominator`, summarised."""
    num = np.asarray(times[numerator])
    den = np.asarray(times[denominator])
    return {**summary(num / den), "per_repeat": (num / den).tolist()}


def headline(what, stats, goal=None, met=None):
    """One README row: what, median [min, max], the goal and whether met."""
    return {
        "what": what,
        "median": stats["median"],
        "min": stats["min"],
        "max": stats["max"],
        "goal": goal,
        "met": met,
    }


def check_publish(publish, repeats, quick=False):
    """Refuses to publish a trial: < 5 repeats, or a `--quick` run.

    Scripts call it before measuring (to fail at once) and `write` again.
    """
    if not publish:
        return
    if quick:
        raise ValueError(
            "A --quick run is a trial and is not published. Received: "
            "quick=True, publish=True"
        )
    if repeats < MIN_REPEATS:
        raise ValueError(
            f"A published benchmark needs >= {MIN_REPEATS} repeats. "
            f"Received: repeats={repeats}"
        )


def write(
    name, rows, details, repeats, clock, publish, quick=False, backends=None
):
    """Prints the rows; writes benchmarks/results/<name>.json if `publish`.

    Publishing needs >= 5 repeats and a full-size run: a smaller run
    (`quick`, the scripts' `--quick`) is a trial, not a figure.
    `backends` (from `merge_backends`) is the per-backend provenance of the
    child processes: it goes to `provenance["backends"]`, their CPU seconds
    are added to `provenance["cpu_seconds"]`, and `versions` names every
    backend measured (and the JAX version).
    """
    for row in rows:
        met = {True: " met", False: " NOT met", None: ""}[row["met"]]
        goal = "" if row["goal"] is None else f" goal {row['goal']}"
        print(
            f"{row['what']}: {row['median']:.3g} "
            f"[{row['min']:.3g}, {row['max']:.3g}]{goal}{met}"
        )
    if not publish:
        return None
    check_publish(publish, repeats, quick)
    path = os.path.join(ROOT, "benchmarks", "results", f"{name}.json")
    prov = training.provenance(clock, seeds=[0])
    if backends:
        prov["backends"] = backends
        prov["cpu_seconds"] = round(
            prov["cpu_seconds"]
            + sum(b["cpu_seconds"] for b in backends.values()),
            2,
        )
        for info in backends.values():
            prov["versions"].update(info["versions"])
        prov["versions"]["keras_backend"] = ",".join(backends)
    data = {
        "headline": rows,
        "details": details,
        "repeats": repeats,
        "provenance": prov,
    }
    training.write_json(path, data)
    print(f"wrote {os.path.relpath(path, ROOT)}")
    return path


def check_backends(backends):
    """The `--backends` list, validated: known names, none twice."""
    backends = [str(b).strip().lower() for b in backends]
    if (
        not backends
        or set(backends) - set(BACKENDS)
        or len(set(backends)) != len(backends)
    ):
        raise ValueError(
            f"`--backends` takes some of {list(BACKENDS)}, each once. "
            f"Received: backends={backends}"
        )
    return backends


def child_backend(backends):
    """The one backend a child process measures; it must be Keras's own."""
    current = keras.backend.backend()
    if list(backends) != [current]:
        raise ValueError(
            f"A child run measures its own Keras backend ({current}, from "
            f"KERAS_BACKEND) only. Received: backends={list(backends)}"
        )
    return current


def flag_args(flag_values, names):
    """The command-line form (`--name=value`) of the named absl flags."""
    return [flag_values[name].serialize() for name in names]


def backend_versions():
    """Versions of this process's backend (a child's provenance)."""
    versions = {"keras_backend": keras.backend.backend()}
    if versions["keras_backend"] == "jax":
        import jax
        import jaxlib

        versions.update(jax=jax.__version__, jaxlib=jaxlib.__version__)
    return versions


def write_child(path, rows, details):
    """A child process's measurement, for `run_backends` to read."""
    training.write_json(
        path,
        {
            "backend": keras.backend.backend(),
            "rows": rows,
            "details": details,
            "versions": backend_versions(),
        },
    )
    return path


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_backends(script, backends, args):
    """Runs `script` once per backend, one child process each, in order.

    Each child gets `KERAS_BACKEND=<backend>` and the command line
    `args + ["--backends=<backend>", "--child_json=<temporary file>"]`,
    measures, and writes its result there (`write_child`). A failed child
    raises `RuntimeError` naming the backend.

    Returns:
        dict backend -> the child's result plus its `wall_seconds` and
        `cpu_seconds` (the whole child process: imports, warm-up, timing).
    """
    results = {}
    with tempfile.TemporaryDirectory(prefix="kdl_bench_") as folder:
        for backend in check_backends(backends):
            path = os.path.join(folder, f"{backend}.json")
            command = [
                sys.executable,
                script,
                *args,
                f"--backends={backend}",
                f"--child_json={path}",
            ]
            env = {**os.environ, "KERAS_BACKEND": backend}
            cpu, start = _children_cpu(), time.perf_counter()
            done = subprocess.run(command, env=env, check=False)
            wall = time.perf_counter() - start
            if done.returncode != 0 or not os.path.exists(path):
                raise RuntimeError(
                    f"The {backend} run of {os.path.basename(script)} failed. "
                    f"Received: returncode={done.returncode}"
                )
            with open(path) as f:
                result = json.load(f)
            if result["backend"] != backend:
                raise RuntimeError(
                    f"The {backend} child measured another backend. "
                    f"Received: backend={result['backend']}"
                )
            result["wall_seconds"] = round(wall, 2)
            result["cpu_seconds"] = round(_children_cpu() - cpu, 2)
            results[backend] = result
    return results


def merge_backends(results):
    """One benchmark's rows, details and provenance from its child runs.

    Args:
        results: dict backend -> child result (`run_backends`).

    Returns:
        rows: every child's headline rows, backend by backend (in
            `BACKENDS` order), each with `"backend"` and its "what"
            prefixed by the backend's label ("JAX: ...").
        details: dict backend -> that child's details.
        backends: dict backend -> {versions, wall_seconds, cpu_seconds}
            (for `write(..., backends=...)`).
    """
    rows, details, backends = [], {}, {}
    for backend in sorted(results, key=list(BACKENDS).index):
        result = results[backend]
        for row in result["rows"]:
            rows.append(
                {
                    **row,
                    "what": f"{BACKENDS[backend]}: {row['what']}",
                    "backend": backend,
                }
            )
        details[backend] = result["details"]
        backends[backend] = {
            key: result[key]
            for key in ("versions", "wall_seconds", "cpu_seconds")
        }
    return rows, details, backends


def backend_main(
    name, script, flag_values, child_flags, measure, settings, repeats
):
    """The `main` of a benchmark that reports several backends.

    In a child process (`--child_json`), measures its own backend
    (`measure(backend, *settings)` -> rows, details) and writes them;
    `repeats` is the repeat count the rows were measured with;
    in the parent, runs one child per `--backends` entry and writes the
    merged results as benchmarks/results/<name>.json (`write`).
    """
    clock = training.Clock()
    fv = flag_values
    check_publish(fv.publish, fv.repeats, fv.quick)
    backends = check_backends(fv.backends)
    if fv.child_json:
        rows, details = measure(child_backend(backends), *settings)
        write_child(fv.child_json, rows, details)
        return
    results = run_backends(script, backends, flag_args(fv, child_flags))
    rows, details, info = merge_backends(results)
    write(
        name, rows, details, repeats, clock, fv.publish, quick=fv.quick,
        backends=info,
    )  # fmt: skip
