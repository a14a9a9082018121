"""recipes/glo.py: smoke run, cached arms per seed, --tune, --helpfull."""

import json

import numpy as np
import pytest
from absl import flags

from tests.recipes import recipe_testing

glo = recipe_testing.load_recipe("glo")

SCORES = {"test_mse_encoded", "test_sharpness", "sample_sharpness"}
SCORES |= {"fd_samples", "fd_reconstructions"}


def synthetic(n_train=300, n_test=40, seed=0):
    rng = np.random.RandomState(seed)
    x = (rng.uniform(size=(n_train + n_test, 28, 28)) * 255).astype("uint8")
    y = rng.randint(0, 10, n_train + n_test).astype("int32")
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def smoke_flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        glo, output_dir=str(tmp_path), **{"smoke": True, **overrides}
    )


@pytest.mark.usefixtures("eager_fits")
def test_seeds_then_smoke_reuses_finished_arms(tmp_path):
    # Two seeds of L2 GLO and the DCGAN at the smoke sizes without --smoke
    # (which runs seed 0 only).
    sizes = {**glo.SMOKE, "seeds": [0, 1], "losses": ["l2"]}
    two = glo.run(
        smoke_flags(tmp_path, **{**sizes, "smoke": False}),
        datasets_override=synthetic(),
    )
    assert list(two["arms"]) == ["l2_pca"] and len(two["arms"]["l2_pca"]) == 2
    assert len(two["dcgan"]) == 2
    for run in two["arms"]["l2_pca"] + two["dcgan"]:
        assert SCORES <= set(run) and all(np.isfinite(run[k]) for k in SCORES)
    glo_run = two["arms"]["l2_pca"][0]
    assert len(glo_run["history"]["mse"]) == glo.SMOKE["epochs"]
    assert len(two["dcgan"][0]["history"]["d_loss"]) == glo.SMOKE["gan_epochs"]
    assert np.isfinite(two["classifier"]["fd"])
    assert 0 <= two["classifier"]["test_accuracy"] <= 1
    rows = two["readme_rows"]
    assert [set(row) for row in rows] == [
        {"what", "ours", "paper", "holds"}
    ] * 3
    assert rows[0]["what"] == (
        "held-out MSE (32 test images encoded), 2 seeds: GLO L2 + PCA / DCGAN"
    )
    assert all(row["holds"] in {"yes", "no", "partly"} for row in rows)
    assert "±" in rows[1]["ours"] and two["smoke"] is False
    for name in (
        "results.json",
        "table.md",
        "mse.png",
        "fd.png",
        "sharpness.png",
        "samples.png",
        "reconstructions.png",
        "classifier/lenet5.keras",
    ):
        assert (tmp_path / name).exists(), name
    for arm in ("l2_pca_seed1", "dcgan_seed1"):
        for name in (
            "result.json",
            "reconstructions.png",
            "samples.png",
            "shown.npz",
            "train/history.csv",
        ):
            assert (tmp_path / arm / name).exists(), (arm, name)
    assert (tmp_path / "l2_pca_seed0" / "interpolations.png").exists()
    assert "| samples |" in (tmp_path / "table.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows

    # --smoke (seed 0), both losses (any case), no GAN: L2 reused, Lap1
    # trained; the GAN rows have no verdict, the Lap1 vs L2 row joins.
    one = glo.run(
        smoke_flags(tmp_path, losses=["Lap1", "L2"], gan=False),
        datasets_override=synthetic(),
    )
    assert list(one["arms"]) == ["lap1_pca", "l2_pca"] and not one["dcgan"]
    assert one["arms"]["l2_pca"] == two["arms"]["l2_pca"][:1]
    reused = [a["reused"] for a in one["provenance"]["arm_seconds"]]
    assert reused == [True, False, True]  # classifier, lap1, l2
    assert [row["holds"] for row in one["readme_rows"][:3]] == ["n/a"] * 3
    assert one["readme_rows"][-1]["what"] == (
        "Laplacian energy ratio of held-out reconstructions, 1 seed: "
        "GLO Lap1 + PCA / GLO L2 + PCA"
    )
    assert one["provenance"]["seeds"] == [0]


def test_bad_flag_values():
    for name, value in (
        ("losses", ["l3"]),
        ("inits", ["zeros"]),
        ("inits", []),
        ("seeds", [-1]),
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
        "--seeds",
        "--gan",
        "--gan_epochs",
        "--fd_size",
        "--train_size",
        "--strategy",
        "--tune",
        "--results_json",
    ):
        assert flag in help_text, flag
