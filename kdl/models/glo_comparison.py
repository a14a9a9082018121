"""The GLO paper's comparisons, from per-seed arm results: tables, plots,
image grids and README rows (recipes/glo.py)."""

import os

import numpy as np

from kdl.training.atomic import write_text
from kdl.training.reporting import mean_sd
from kdl.training.reporting import save_image_grid
from kdl.training.seed_groups import lead_verdict
from kdl.training.seed_groups import plot_seed_points
from kdl.training.seed_groups import save_seed_table

LOSS_NAMES = {"lap1": "Lap1", "l2": "L2"}
INIT_NAMES = {"pca": "PCA", "random": "random"}
GAN = "dcgan"
# (file stem, number format, title, {setting: result key}).
METRICS = (
    ("mse", ".4f", "held-out MSE", {"held-out": "test_mse_encoded"}),
    (
        "fd",
        ".2f",
        "FD (LeNet-5 f6)",
        {"samples": "fd_samples", "held-out recon.": "fd_reconstructions"},
    ),
    (
        "sharpness",
        ".3f",
        "Laplacian energy ratio",
        {"held-out recon.": "test_sharpness", "samples": "sample_sharpness"},
    ),
)
PAPER = {
    "mse": "GLO reconstructs held-out images better than a GAN",
    "fd": "the GAN's samples are better (lower FD)",
    "sample_sharp": "the GAN's samples are sharper than GLO's",
    "sharp": "Lap1 sharper than L2",
    "pca": "PCA init helps",
}


def arm_label(name):
    """`"lap1_pca"` -> `"GLO Lap1 + PCA"`, `"dcgan"` -> `"DCGAN"`."""
    if name == GAN:
        return "DCGAN"
    loss, init = name.split("_")
    return f"GLO {LOSS_NAMES[loss]} + {INIT_NAMES[init]}"


def per_seed(runs):
    """`{arm: [result per seed]}` -> `{arm: {key: [value per seed]}}`."""
    return {n: {k: [r[k] for r in v] for k in v[0]} for n, v in runs.items()}


def save_comparison(values, directory, real, held_out, shown):
    """Writes the tables, plots and image grids of the arms in `values`.

    `<stem>.png` (per-seed dots, mean +- sd) and `<stem>.md` for each of
    `METRICS`, `table.md` (all three tables), and `samples.png` /
    `reconstructions.png`: real (held-out) images over each arm's samples
    (held-out reconstructions) from `shown`.

    Args:
        values: `{arm: {key: [value per seed]}}` (`per_seed`).
        directory: the output folder.
        real, held_out: test images and held-out images (first rows).
        shown: `{arm: {"samples": images, "reconstructions": images}}`.

    Returns:
        `table.md`'s text.
    """
    tables = []
    for stem, fmt, title, keys in METRICS:
        group = {
            what: {arm_label(n): v[k] for n, v in values.items()}
            for what, k in keys.items()
        }
        path = os.path.join(directory, stem)
        plot_seed_points(group, f"{path}.png", title)
        table = save_seed_table(group, f"{path}.md", fmt)
        tables.append(f"{title} (mean ± sd over seeds)\n\n{table}")
    for name, first in (("samples", real), ("reconstructions", held_out)):
        rows = [np.asarray(shown[n][name]) for n in values]
        save_image_grid(
            [first[: len(rows[0])]] + rows,
            os.path.join(directory, f"{name}.png"),
            row_labels=["test images"] + [arm_label(n) for n in values],
            title=f"{name}, first seed",
            normalize="none",
        )
    table = "\n\n".join(tables)
    write_text(os.path.join(directory, "table.md"), table + "\n")
    return table


def verdict(pairs):
    """`lead_verdict(better, worse)` of every pair if they agree, else
    "partly" ("n/a" without pairs)."""
    found = {lead_verdict(a, b) for a, b in pairs}
    return found.pop() if len(found) == 1 else "partly" if found else "n/a"


def comparison_rows(values, seeds, test_size, fd_size, fd_floor):
    """README rows: held-out MSE, FD and sharpness of samples (GLO vs
    GAN), Lap1 vs L2 sharpness of held-out reconstructions, PCA vs random
    init, each with its "holds" verdict (`verdict` of `lead_verdict`).

    Args:
        values: `{arm: {key: [value per seed]}}`; arms `"<loss>_<init>"`
            and `"dcgan"`.
        seeds: the number of seeds.
        test_size, fd_size: held-out images encoded; images in the FD.
        fd_floor: the FD between as many real training and test images.
    """
    glo = [n for n in values if n != GAN]
    gan = values.get(GAN)

    def row(what, key, fmt, claim, pairs, arms=tuple(values)):
        names = " / ".join(map(arm_label, arms))
        return {
            "what": f"{what}, {seeds} seed{'s' * (seeds > 1)}: {names}",
            "ours": " / ".join(mean_sd(values[n][key], fmt) for n in arms),
            "paper": PAPER[claim],
            "holds": verdict(pairs),
        }

    mse, fd, sharp = "test_mse_encoded", "fd_samples", "test_sharpness"
    samples = "sample_sharpness"
    what = f"FD of {fd_size} samples to test images (LeNet-5 f6; real "
    what += f"training images: {fd_floor:.2f})"
    rows = [
        row(
            f"held-out MSE ({test_size} test images encoded)",
            *(mse, ".4f", "mse"),
            [(gan[mse], values[n][mse]) for n in glo if gan],
        ),
        row(
            what,
            *(fd, ".2f", "fd"),
            [(values[n][fd], gan[fd]) for n in glo if gan],
        ),
        row(
            "Laplacian energy ratio of samples to test images",
            *(samples, ".3f", "sample_sharp"),
            [(gan[samples], values[n][samples]) for n in glo if gan],
        ),
    ]
    inits = [i for i in INIT_NAMES if {f"lap1_{i}", f"l2_{i}"} <= set(values)]
    if inits:
        rows.append(
            row(
                "Laplacian energy ratio of held-out reconstructions",
                *(sharp, ".3f", "sharp"),
                [
                    (values[f"lap1_{i}"][sharp], values[f"l2_{i}"][sharp])
                    for i in inits
                ],
                [f"{loss}_{i}" for i in inits for loss in ("lap1", "l2")],
            )
        )
    losses = [
        loss
        for loss in LOSS_NAMES
        if {f"{loss}_pca", f"{loss}_random"} <= set(values)
    ]
    if losses:
        rows.append(
            row(
                "held-out MSE",
                *(mse, ".4f", "pca"),
                [
                    (values[f"{n}_random"][mse], values[f"{n}_pca"][mse])
                    for n in losses
                ],
                [f"{n}_{i}" for n in losses for i in INIT_NAMES],
            )
        )
    return rows
