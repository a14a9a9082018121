"""recipes/glo.py: smoke run, cached arms, --tune, CLI and --helpfull."""

import json
import time

import numpy as np
import pytest
from absl import flags

from tests.recipes import recipe_testing

glo = recipe_testing.load_recipe("glo")

ARMS = {"lap1_pca", "l2_pca", "lap1_random", "l2_random"}


def synthetic(n_train=300, n_test=40, seed=0):
    rng = np.random.RandomState(seed)
    x = (rng.uniform(size=(n_train + n_test, 28, 28)) * 255).astype("uint8")
    y = np.zeros(n_train + n_test, "int32")
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def smoke_flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        glo, output_dir=str(tmp_path), smoke=True, **overrides
    )


def test_smoke_run_then_reused_then_rerun(tmp_path):
    start = time.perf_counter()
    results = glo.run(smoke_flags(tmp_path), datasets_override=synthetic())
    first_seconds = time.perf_counter() - start

    assert list(results["arms"]) == [
        "lap1_pca",
        "l2_pca",
        "lap1_random",
        "l2_random",
    ]
    for arm in results["arms"].values():
        assert np.isfinite(arm["train_mse"]) and np.isfinite(
            arm["test_mse_encoded"]
        )
        assert len(arm["history"]["mse"]) == glo.SMOKE["epochs"]
    assert results["train_size"] == glo.SMOKE["train_size"]
    assert results["test_size"] == glo.SMOKE["test_size"]
    assert results["smoke"] and results["settings"]["latent_dim"] == 8
    rows = results["readme_rows"]
    assert [set(row) for row in rows] == [
        {"what", "ours", "paper", "holds"}
    ] * 2
    assert rows[0]["what"].endswith("Lap1 + PCA init")
    assert rows[0]["holds"] == "n/a"
    assert rows[1]["what"] == "same, L2 + PCA; Lap1 + random; L2 + random"
    assert len(rows[1]["ours"].split("; ")) == 3
    assert rows[1]["holds"] in {"yes", "no", "partly"}
    for name in ("results.json", "table.md", "mse.png"):
        assert (tmp_path / name).exists(), name
    for arm in ARMS:
        for name in (
            "result.json",
            "reconstructions.png",
            "samples.png",
            "interpolations.png",
            "train/history.csv",
        ):
            assert (tmp_path / arm / name).exists(), (arm, name)
    assert "| L2 + random |" in (tmp_path / "table.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows

    start = time.perf_counter()
    again = glo.run(smoke_flags(tmp_path), datasets_override=synthetic())
    assert time.perf_counter() - start < first_seconds / 3
    assert again["arms"] == results["arms"]  # incl. each arm's seconds

    # Fewer arms (--losses, any case, --inits) reuse the finished ones;
    # other data reruns them.
    one = glo.run(
        smoke_flags(tmp_path, losses=["L2"], inits=["random"]),
        datasets_override=synthetic(),
    )
    assert list(one["arms"]) == ["l2_random"]
    assert one["arms"]["l2_random"] == results["arms"]["l2_random"]
    assert len(one["readme_rows"]) == 1
    other = glo.run(
        smoke_flags(tmp_path, losses=["l2"], inits=["random"]),
        datasets_override=synthetic(seed=1),
    )
    before = results["arms"]["l2_random"]["seconds"]
    assert other["arms"]["l2_random"]["seconds"] != before


def test_bad_flag_values():
    for name, value in (
        ("losses", ["l3"]),
        ("inits", ["zeros"]),
        ("inits", []),
    ):
        with pytest.raises(flags.IllegalFlagValueError, match=name):
            recipe_testing.flags_for(glo, **{name: value})


@pytest.mark.slow
def test_tune_two_trials(tmp_path):
    results = glo.run(
        smoke_flags(tmp_path, tune=True, max_trials=2),
        datasets_override=synthetic(),
    )
    assert len(results["trials"]) == 2
    assert "latent_dim" in results["best_hyperparameters"]
    assert (tmp_path / "tune" / "trials.csv").exists()


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("glo")
    for flag in (
        "--code_learning_rate",
        "--losses",
        "--inits",
        "--train_size",
        "--strategy",
        "--tune",
        "--results_json",
    ):
        assert flag in help_text, flag
