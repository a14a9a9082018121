"""Markdown tables, image grids and curves for recipe reports."""

import os

import numpy as np


def _cell(value, fmt):
    if value is None:
        return "-"
    if callable(fmt):
        return fmt(value)
    if fmt and isinstance(value, (int, float, np.number)):
        return format(value, fmt)
    return str(value)


def markdown_table(rows, columns):
    """A markdown table from a list of dicts.

    Args:
        rows: list of dicts.
        columns: list of `(header, key)` or `(header, key, fmt)`; `key` is a
            dict key or a callable of the row; `fmt` a format spec such as
            ".1f" or a callable of the value. Missing values print "-".

    Returns:
        The table as one string (no trailing newline).
    """
    columns = [tuple(c) + ("",) * (3 - len(c)) for c in columns]
    lines = [
        "| " + " | ".join(c[0] for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = []
        for _, key, fmt in columns:
            value = key(row) if callable(key) else row.get(key)
            cells.append(_cell(value, fmt))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_table(rows, columns, path, echo=True):
    """`markdown_table(rows, columns)` written to `path` (and printed).

    The recipe's `table.md`: written atomically with a final newline; with
    `echo`, also printed for the run's log.

    Returns:
        The table as one string (no trailing newline).
    """
    from kdl.training.atomic import write_text

    table = markdown_table(rows, columns)
    write_text(path, table + "\n")
    if echo:
        print(table)
    return table


def mean_sd(values, fmt=".3f"):
    """'mean +- sd' over seeds (sd with ddof=1; one value prints alone)."""
    values = np.asarray([v for v in values if v is not None], "float64")
    if values.size == 0:
        return "-"
    if values.size == 1:
        return format(values[0], fmt)
    return f"{format(values.mean(), fmt)} ± {format(values.std(ddof=1), fmt)}"


def seed_summary(runs, keys, **extra):
    """Mean and sd (ddof 1; 0 for one run) of `keys` over per-seed `runs`.

    Returns:
        `{key: mean, f"{key}_sd": sd for key in keys}`, then `extra`, then
        `"runs": runs`.
    """
    if not runs:
        raise ValueError(f"`runs` must not be empty. Received: runs={runs}")
    out = {}
    for key in keys:
        values = np.asarray([r[key] for r in runs], "float64")
        out[key] = float(values.mean())
        out[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {**out, **extra, "runs": runs}


def claims_hold(claims):
    """The verdict yes / partly / no: all / some / none of `claims` hold.

    A README row's "paper's ordering holds?" cell from the checks a recipe
    makes of the paper's claims against its own numbers; "n/a" when there
    is no claim to check.
    """
    claims = [bool(c) for c in claims]
    if not claims:
        return "n/a"
    return "yes" if all(claims) else "partly" if any(claims) else "no"


def elementwise_holds(values, better, worse):
    """`claims_hold` of `values[better][i] > values[w][i]`, for every `w` in
    `worse` and every position `i` where neither is None (e.g. BLEU per
    length bin); arms missing from `values` are left out.

    Example:
        >>> elementwise_holds({"a": [3, 1], "b": [2, 2]}, "a", ["b"])
        'partly'
    """
    return claims_hold(
        a > b
        for w in worse
        if better in values and w in values
        for a, b in zip(values[better], values[w])
        if None not in (a, b)
    )


def ordering_holds(values, expected_order):
    """Whether `values` are ordered as expected, compared pair by pair.

    Args:
        values: dict name -> number (e.g. test error per method).
        expected_order: names from the smallest to the largest expected
            value (e.g. the paper's methods sorted by its error). Names
            missing from either side are left out.

    Returns:
        "yes" when every pair of the names in both is ordered as expected
        (a tie counts as out of order), "partly" when more than half of the
        pairs are, "no" otherwise; "n/a" with fewer than two names.

    Example:
        >>> ordering_holds({"a": 0.1, "b": 0.3, "c": 0.2}, ["a", "b", "c"])
        'partly'
    """
    names = [n for n in expected_order if n in values]
    agree = [
        values[a] < values[b]
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]
    if not agree:
        return "n/a"
    if all(agree):
        return "yes"
    return "partly" if np.mean(agree) > 0.5 else "no"


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    from kdl.training.atomic import atomic_open

    plt = pyplot()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, dpi=100, format=os.path.splitext(path)[1][1:] or "png")
    plt.close(fig)
    return path


def _padded(ys):
    """A curve, or per-seed curves of unequal length padded with NaN."""
    if len(ys) and all(np.ndim(y) == 1 for y in ys):
        longest = max(len(y) for y in ys)
        out = np.full((len(ys), longest), np.nan)
        for row, y in zip(out, ys):
            row[: len(y)] = y
        return out
    return np.asarray(ys, dtype="float64")


def plot_curves(
    curves, path, xlabel="epoch", ylabel="", title="", logy=False, x=None
):
    """Plots named curves (`{label: sequence}`) on one axis into an image.

    `x` optionally gives x values: one sequence for all curves, or a dict
    with one sequence per label. A curve given as a dict `{x: y}` (keys
    numbers or their text, e.g. epochs read back from JSON) is drawn at its
    keys, in increasing order. Curves given as a list of sequences (one
    per seed, of equal or unequal lengths, e.g. runs stopped early) are
    drawn as the mean of the seeds still running, with a band from min to
    max. Returns
    `path`; the file is written atomically.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ys in curves.items():
        if isinstance(ys, dict):
            points = sorted((float(k), v) for k, v in ys.items())
            xs = np.asarray([k for k, _ in points])
            ys = np.asarray([v for _, v in points], dtype="float64")
        else:
            ys = _padded(ys)
            if isinstance(x, dict):
                xs = np.asarray(x[label])
            elif x is not None:
                xs = np.asarray(x)
            else:
                xs = np.arange(1, ys.shape[-1] + 1)
        if ys.ndim == 2:
            (line,) = ax.plot(
                xs, np.nanmean(ys, 0), label=f"{label} (n={len(ys)})"
            )
            ax.fill_between(
                xs,
                np.nanmin(ys, 0),
                np.nanmax(ys, 0),
                alpha=0.2,
                color=line.get_color(),
            )
        else:
            ax.plot(xs, ys, marker="o" if len(ys) < 30 else None, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1 or any(np.ndim(v) == 2 for v in curves.values()):
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


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


def plot_heatmap(
    matrix,
    path,
    xticklabels=None,
    yticklabels=None,
    xlabel="",
    ylabel="",
    title="",
    vmin=0.0,
    vmax=1.0,
    cmap="gray_r",
):
    """Plots a labelled matrix (e.g. attention weights) as an image.

    Args:
        matrix: a 2-D array, row i drawn at height i.
        path: the output file (written atomically).
        xticklabels, yticklabels: optional label per column / row (words
            of the source / output sentence for an alignment).
        xlabel, ylabel, title: axis labels and title.
        vmin, vmax, cmap: the color scale (default: 0 white, 1 black).

    Returns:
        `path`.
    """
    matrix = np.asarray(matrix, dtype="float32")
    if matrix.ndim != 2:
        raise ValueError(
            f"`matrix` must be 2-D. Received: matrix.shape={matrix.shape}"
        )
    rows, cols = matrix.shape
    plt = pyplot()
    fig, ax = plt.subplots(
        figsize=(max(4, 0.35 * cols + 1.5), max(3, 0.35 * rows + 1.5))
    )
    ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    if xticklabels is not None:
        ax.set_xticks(range(cols))
        ax.set_xticklabels([str(t) for t in xticklabels], rotation=90)
    if yticklabels is not None:
        ax.set_yticks(range(rows))
        ax.set_yticklabels([str(t) for t in yticklabels])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _as_image(image):
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3):
        raise ValueError(
            "Each image must be (H, W), (H, W, 1) or (H, W, 3). Received: "
            f"shape={image.shape}"
        )
    return image


def save_image_grid(
    rows,
    path,
    row_labels=None,
    col_titles=None,
    title="",
    normalize="each",
    cmap="gray",
    cell_inches=1.1,
):
    """Saves a grid of images, one list of images per row, as a PNG.

    The grid is tiled into one mosaic (2-pixel gaps) and drawn with a single
    `imshow`, so a grid of hundreds of images costs about one plot.

    Args:
        rows: a list of rows, each a sequence of images ((H, W), (H, W, 1)
            or (H, W, 3)) of one size; or one array (N, H, W[, C]) shown as
            one row.
        path: the output file (written atomically).
        row_labels: optional label per row (left of the row).
        col_titles: optional title per column (above the first row).
        title: figure title.
        normalize: "each" rescales every image to [0, 1] (filters, saliency
            maps); "none" clips to [0, 1] (images already in range).
        cmap: colormap for single-channel images.

    Returns:
        `path`.
    """
    if normalize not in ("each", "none"):
        raise ValueError(
            f"`normalize` must be 'each' or 'none'. Received: "
            f"normalize={normalize!r}"
        )
    if isinstance(rows, np.ndarray):
        rows = [list(rows)]
    rows = [[_as_image(image) for image in row] for row in rows]
    if not rows or not any(rows):
        raise ValueError(f"`rows` holds no image. Received: rows={rows!r}")
    shapes = {image.shape[:2] for row in rows for image in row}
    if len(shapes) > 1:
        raise ValueError(
            f"All images must have one size. Received: shapes={sorted(shapes)}"
        )
    (h, w), gap = shapes.pop(), 2
    color = any(image.ndim == 3 for row in rows for image in row)
    ncols = max(len(r) for r in rows)
    mosaic = np.ones(
        (len(rows) * (h + gap) - gap, ncols * (w + gap) - gap, 3), "float32"
    )
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            if normalize == "each":
                lo, hi = float(image.min()), float(image.max())
                image = (image - lo) / (hi - lo) if hi > lo else image * 0
            image = np.clip(image, 0.0, 1.0)
            if image.ndim == 2:
                image = image[..., None]
            top, left = i * (h + gap), j * (w + gap)
            mosaic[top : top + h, left : left + w] = image
    plt = pyplot()
    fig, ax = plt.subplots(
        figsize=(cell_inches * ncols + 0.8, cell_inches * len(rows) + 0.5)
    )
    ax.imshow(mosaic if color else mosaic[..., 0], cmap=None if color else cmap)
    ax.set_xticks([j * (w + gap) + w / 2 for j in range(len(col_titles or []))])
    ax.set_xticklabels([str(t) for t in col_titles or []], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks([i * (h + gap) + h / 2 for i in range(len(row_labels or []))])
    ax.set_yticklabels([str(t) for t in row_labels or []], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
