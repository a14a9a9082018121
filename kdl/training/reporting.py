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
    """A markdown table from a list of dicts (or of tuples).

    Args:
        rows: list of dicts; or of sequences, each holding one item per
            column in the columns' order.
        columns: list of `(header, key)` or `(header, key, fmt)`, or a
            plain `header` (its own key); `key` is a dict key or a callable
            of the row (a sequence row's item is the one at the column's
            position); `fmt` a format spec such as ".1f" or a callable of
            the value. Missing values print "-".

    Returns:
        The table as one string (no trailing newline).

    Example:
        >>> rows = [{"model": "SRN", "ppl": 129.04}, ("LSTM", 115.2)]
        >>> print(markdown_table(rows, ["model", ("test ppl", "ppl", ".1f")]))
        | model | test ppl |
        |---|---|
        | SRN | 129.0 |
        | LSTM | 115.2 |
    """
    columns = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    columns = [c + ("",) * (3 - len(c)) for c in columns]
    lines = [
        "| " + " | ".join(c[0] for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = []
        for i, (_, key, fmt) in enumerate(columns):
            if callable(key):
                value = key(row)
            else:
                value = row.get(key) if isinstance(row, dict) else row[i]
            cells.append(_cell(value, fmt))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_table(rows, columns, path, echo=True, title=""):
    """`markdown_table(rows, columns)` written to `path` (and printed).

    The recipe's `table.md`: written atomically with a final newline; with
    `echo`, also printed for the run's log. A `title` heads the file (and
    the printed text), followed by a blank line.

    Returns:
        The table as one string (no title, no trailing newline).

    Example:
        >>> save_table([{"m": "SRN"}], ["m"], "t.md", False, "Test ppl")
        '| m |\n|---|\n| SRN |'
    """
    from kdl.training.atomic import write_text

    table = markdown_table(rows, columns)
    text = f"{title}\n\n{table}" if title else table
    write_text(path, text + "\n")
    if echo:
        print(text)
    return table


def mean_sd(values, fmt=".3f", scale=1):
    """'mean +- sd' over seeds (sd with ddof=1; one value prints alone).

    None values are left out ("-" when none is left); `scale` multiplies
    the values first (e.g. 100: fractions printed as percent).

    Example:
        >>> mean_sd([0.81, 0.83, None], ".1f", scale=100)
        '82.0 ± 1.4'
    """
    values = np.asarray([v for v in values if v is not None], "float64")
    values = values * scale
    if values.size == 0:
        return "-"
    if values.size == 1:
        return format(values[0], fmt)
    return f"{format(values.mean(), fmt)} ± {format(values.std(ddof=1), fmt)}"


def reached_mean_sd(values, fmt=".0f"):
    """'mean ± sd (reached/total)' of per-seed values that may be None.

    For a number a seed may never produce, e.g. the training steps to reach
    a validation accuracy (None where the seed never did): `mean_sd` of the
    seeds that got there, then how many of all did.

    Example:
        >>> reached_mean_sd([100, None, 300])
        '200 ± 141 (2/3)'
    """
    values = list(values)
    reached = [v for v in values if v is not None]
    return f"{mean_sd(reached, fmt)} ({len(reached)}/{len(values)})"


def per_seed(arms, fields):
    """Per arm, one value per seed taken from each of the arm's results.

    Args:
        arms: `{arm: runs}`; `runs` are the arm's per-seed results, as a
            list or as a dict seed -> result.
        fields: a result's key or a callable of the result; or a dict
            `{name: key or callable}` for several values per seed.

    Returns:
        `{arm: [value per seed]}`; for a dict of `fields`,
        `{arm: {name: [value per seed]}}` (names in the order of `fields`).

    Example:
        >>> runs = {"lstm": {0: {"acc": 0.5, "curve": [0.2, 0.4]}}}
        >>> per_seed(runs, "acc")
        {'lstm': [0.5]}
        >>> per_seed(runs, {"last": lambda r: r["curve"][-1]})
        {'lstm': {'last': [0.4]}}
    """

    def values(runs, key):
        runs = runs.values() if isinstance(runs, dict) else runs
        return [key(r) if callable(key) else r[key] for r in runs]

    if isinstance(fields, dict):
        return {
            arm: {name: values(runs, key) for name, key in fields.items()}
            for arm, runs in arms.items()
        }
    return {arm: values(runs, fields) for arm, runs in arms.items()}


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
        values: dict name -> number (e.g. test error per method), or name
            -> per-seed numbers (compared by their mean).
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
        >>> ordering_holds({"a": [1.1, 1.3], "b": [1.4, 1.6]}, ["a", "b"])
        'yes'
    """
    names = [n for n in expected_order if n in values]
    means = {n: float(np.mean(values[n])) for n in names}
    agree = [
        means[a] < means[b] for i, a in enumerate(names) for b in names[i + 1 :]
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


def _points(curve):
    """Points `{x: y}` (keys numbers or their text), or a list of them (one
    per seed): sorted x values, and y values (NaN where a seed has none)."""
    seeds = [curve] if isinstance(curve, dict) else list(curve)
    xs = sorted({float(x) for seed in seeds for x in seed})
    column = {x: i for i, x in enumerate(xs)}
    ys = np.full((len(seeds), len(xs)), np.nan)
    for row, seed in zip(ys, seeds):
        for x, y in seed.items():
            row[column[float(x)]] = y
    return np.asarray(xs), ys[0] if isinstance(curve, dict) else ys


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
    per seed, of equal or unequal lengths, e.g. runs stopped early), or as
    a list of `{x: y}` dicts (one per seed), are drawn as the mean of the
    seeds with a point there, with a band from min to max. Returns
    `path`; the file is written atomically.

    Example:
        >>> plot_curves({"NAT": [{"5": 0.61, "10": 0.70}, {"5": 0.63}]},
        ...             "probe.png", xlabel="epoch")
        'probe.png'
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    banded = False
    for label, ys in curves.items():
        if isinstance(ys, dict) or (
            len(ys) and all(isinstance(y, dict) for y in ys)
        ):
            xs, ys = _points(ys)
        else:
            ys = _padded(ys)
            if isinstance(x, dict):
                xs = np.asarray(x[label])
            elif x is not None:
                xs = np.asarray(x)
            else:
                xs = np.arange(1, ys.shape[-1] + 1)
        if ys.ndim == 2:
            banded = True
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
    if len(curves) > 1 or banded:
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


def save_filter_grid(
    kernel, image_shape, path, max_filters=100, cell_inches=0.5, **grid_kwargs
):
    """Saves the first layer of a net on flat images as its filters' images.

    Each of the first `max_filters` columns (units) of the dense `kernel`
    `(inputs, units)` is reshaped to `image_shape` and drawn (rescaled to
    [0, 1] each) in a near-square grid: rows of ceil(sqrt(n)) filters.

    Args:
        kernel: the first dense layer's kernel, inputs = prod(image_shape).
        image_shape: `(H, W)` or `(H, W, C)` of the flat input images.
        path: the output image (written atomically).
        max_filters: how many units to draw (the first ones).
        cell_inches, **grid_kwargs: for `save_image_grid` (e.g. `title`).

    Returns:
        `path`.

    Example:
        >>> kernel = model.get_layer("hidden_0").kernel  # (784, 500)
        >>> save_filter_grid(keras.ops.convert_to_numpy(kernel), (28, 28),
        ...                  "filters.png", title="first-layer filters")
        'filters.png'
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(
            f"`kernel` must be 2-D (inputs, units). Received: "
            f"kernel.shape={kernel.shape}"
        )
    images = kernel[:, :max_filters].T.reshape(-1, *image_shape)
    cols = int(np.ceil(np.sqrt(len(images))))
    return save_image_grid(
        [images[i : i + cols] for i in range(0, len(images), cols)],
        path,
        cell_inches=cell_inches,
        **grid_kwargs,
    )


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
