"""Results JSON and matplotlib plots for recipes."""

import json
import os

import numpy as np


def _to_jsonable(value):
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "numpy"):
        return _to_jsonable(np.asarray(value))
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else str(value)
    return value


def write_results(output_dir, results, filename="results.json"):
    """Writes `results` (nested dicts/lists, numpy values allowed) as JSON.

    Returns the path written. NaN becomes `null`, infinities strings.
    """
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, filename)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(_to_jsonable(results), f, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(
    curves,
    path,
    xlabel="epoch",
    ylabel="",
    title="",
    logy=False,
    x=None,
):
    """Plots named curves (`{label: sequence}`) on one axis into a PNG.

    `x` optionally gives x values: one sequence for all curves, or a dict
    with one sequence per label. Returns `path`.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ys in curves.items():
        ys = np.asarray(ys, dtype="float64")
        if isinstance(x, dict):
            xs = x[label]
        elif x is not None:
            xs = x
        else:
            xs = np.arange(1, len(ys) + 1)
        ax.plot(xs, ys, marker="o" if len(ys) < 30 else None, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_history(history, path, metrics=("loss",), title=""):
    """Plots learning curves from a `History` (or its `.history` dict).

    For each metric in `metrics`, plots it and its `val_` twin when present.
    """
    history = getattr(history, "history", history)
    curves = {}
    for metric in metrics:
        for key in (metric, f"val_{metric}"):
            if key in history:
                curves[key] = history[key]
    if not curves:
        raise ValueError(
            f"None of metrics={list(metrics)} is in the history. "
            f"Available: {sorted(history)}"
        )
    return plot_curves(curves, path, ylabel=", ".join(metrics), title=title)
