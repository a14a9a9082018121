"""What every benchmark shares: interleaved repeats, ratios, results JSON.

A benchmark measures the ratio of a component against a named baseline in
one run: each repeat times every variant once, in a shuffled order, so
that slow phases of a shared machine hit all variants alike. Ratios are
taken per repeat (variant / baseline of the same repeat) and reported as
the median with [min, max]; the headline is the median, never a chosen
run. Results go to `benchmarks/results/<name>.json` with provenance, and
`scripts/report.py` puts the headline rows into the README.
"""

import os
import random
import time

import numpy as np

from kdl import training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIN_REPEATS = 5


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


def write(name, rows, details, repeats, clock, publish, quick=False):
    """Prints the rows; writes benchmarks/results/<name>.json if `publish`.

    Publishing needs >= 5 repeats and a full-size run: a smaller run
    (`quick`, the scripts' `--quick`) is a trial, not a figure.
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
    data = {
        "headline": rows,
        "details": details,
        "repeats": repeats,
        "provenance": training.provenance(clock, seeds=[0]),
    }
    training.write_json(path, data)
    print(f"wrote {os.path.relpath(path, ROOT)}")
    return path
