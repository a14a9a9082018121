"""One number per seed, per arm, per setting (`groups`): a plot of dots
and mean +- sd, and a markdown table of mean +- sd."""

import os

import numpy as np

from kdl.training.atomic import atomic_open
from kdl.training.reporting import mean_sd
from kdl.training.reporting import pyplot
from kdl.training.reporting import save_table


def plot_seed_points(groups, path, ylabel="", title="", xlabel=""):
    """Plots per-seed values of arms side by side, in groups (settings).

    Every seed's value is a dot; beside it, the arm's mean with an error
    bar of one standard deviation (ddof 1; none for a single seed). Arms
    keep their color across groups; an arm missing from a group leaves a
    gap. Missing values (None, NaN) are left out.

    Args:
        groups: `{group: {arm: [value per seed]}}`, e.g.
            `{"batch 2": {"BN": [0.61, 0.63, 0.60], "renorm": [...]}}`.
        path: the output image (written atomically).
        ylabel, title, xlabel: labels.

    Returns:
        `path`.

    Example:
        >>> plot_seed_points({"batch 4": {"BN": [0.6, 0.62]}}, "acc.png",
        ...                  ylabel="test accuracy")
    """
    if not groups:
        raise ValueError(f"`groups` must not be empty. Received: {groups!r}")
    arms = list(dict.fromkeys(a for g in groups.values() for a in g))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(groups) * len(arms)), 4))
    width = 0.8 / len(arms)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, arm in enumerate(arms):
        color = colors[j % len(colors)]
        for i, values in enumerate(g.get(arm, []) for g in groups.values()):
            values = np.asarray(
                [np.nan if v is None else v for v in values], "float64"
            )
            values = values[np.isfinite(values)]
            if not values.size:
                continue
            x = i - 0.4 + width * (j + 0.5)
            ax.plot(
                np.full(values.size, x - width / 6),
                values,
                "o",
                color=color,
                alpha=0.5,
                markersize=4,
                label=arm,
            )
            sd = values.std(ddof=1) if values.size > 1 else 0.0
            ax.errorbar(
                x + width / 6,
                values.mean(),
                yerr=sd,
                fmt="s",
                color=color,
                capsize=3,
            )
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([str(g) for g in groups])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, dpi=100, format="png")
    plt.close(fig)
    return path


def save_seed_table(groups, path, fmt=".3f", echo=True):
    """A markdown table of `groups`: a row per group, a column per arm,
    cells 'mean ± sd' over seeds (`mean_sd`; "-" where an arm is missing).

    Args:
        groups: `{group: {arm: [value per seed]}}` (see `plot_seed_points`).
        path: the output file (written atomically, and printed with `echo`).
        fmt: the number format.

    Returns:
        The table as one string.

    Example:
        >>> save_seed_table({"batch 4": {"BN": [0.6, 0.62]}}, "table.md")
        '|  | BN |\n|---|---|\n| batch 4 | 0.610 ± 0.014 |'
    """
    arms = list(dict.fromkeys(a for g in groups.values() for a in g))
    rows = [
        {"": str(g), **{a: list(v[a]) for a in v}} for g, v in groups.items()
    ]
    columns = [("", "")] + [(a, a, lambda v: mean_sd(v, fmt)) for a in arms]
    return save_table(rows, columns, path, echo=echo)


def lead_verdict(better, worse):
    """Does `better` beat `worse` over seeds? A README "holds" cell.

    "yes" when mean(better) - mean(worse) exceeds the larger of their
    standard deviations (ddof 1; 0 with one seed each), "partly" when it is
    positive but not that large, "no" otherwise.

    Args:
        better, worse: per-seed values (e.g. test accuracies) of the arm
            expected to be higher and of the other.

    Example:
        >>> lead_verdict([0.80, 0.82, 0.81], [0.50, 0.55, 0.52])
        'yes'
    """
    a, b = (np.asarray(v, "float64") for v in (better, worse))
    if not a.size or not b.size:
        raise ValueError(
            f"Both arms need values. Received: better={better!r}, "
            f"worse={worse!r}"
        )
    sd = max(
        a.std(ddof=1) if a.size > 1 else 0.0,
        b.std(ddof=1) if b.size > 1 else 0.0,
    )
    lead = a.mean() - b.mean()
    return "yes" if lead > sd else "partly" if lead > 0 else "no"


def lead_verdicts(values, better, worse):
    """`lead_verdict` of one arm over several, as one README "holds" cell.

    Args:
        values: `{arm: [value per seed]}`.
        better: the arm expected to be higher.
        worse: the arms expected to be lower; arms missing from `values`
            are left out.

    Returns:
        The verdict shared by every pair, "partly" when the pairs differ,
        "n/a" when `better` or every arm of `worse` is missing.

    Example:
        >>> lead_verdicts({"a": [3, 4], "b": [1, 1], "c": [5, 6]}, "a", "bc")
        'partly'
    """
    ran = [w for w in worse if better in values and w in values]
    cells = {lead_verdict(values[better], values[w]) for w in ran}
    if not cells:
        return "n/a"
    return cells.pop() if len(cells) == 1 else "partly"
