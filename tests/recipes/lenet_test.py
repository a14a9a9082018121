"""recipes/lenet.py: smoke run, reuse of finished arms, tune, CLI."""

import json

import numpy as np
import pytest

from tests.recipes import recipe_testing

recipe = recipe_testing.load_recipe("lenet")
HOLDS = {"yes", "no", "partly", "n/a"}
ARMS = recipe.TRANSFER


def _flags(tmp_path, **overrides):
    overrides.setdefault("seeds", [0])
    return recipe_testing.flags_for(
        recipe, output_dir=str(tmp_path), smoke=True, **overrides
    )


def _tiny(seed, classes):
    """12x12 images (LeNet-5's smallest input) with a bright bar per class."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, classes, 64).astype("int32")
    x = (rng.rand(64, 12, 12) * 60).astype("uint8")
    for k in range(classes):
        x[y == k, 2 * k : 2 * k + 2, :] = 255
    return (x[:48], y[:48]), (x[48:], y[48:])


DATA = {"source": _tiny(0, 4), "target": _tiny(1, 3)}


def _run(flags_obj):
    return recipe.run(flags_obj, datasets_override=DATA)


@pytest.mark.usefixtures("eager_fits")
def test_smoke_run_reuses_finished_arms_until_a_flag_changes(tmp_path):
    results = _run(_flags(tmp_path))
    assert 0.0 <= results["source_test_error"] <= 1.0
    transfer = results["transfer"]
    assert tuple(transfer) == ARMS
    params = [transfer[m]["runs"][0]["trainable_params"] for m in ARMS]
    # The linear classifier < new head < the whole network.
    assert params[1] < params[0] < params[2] == params[3]
    for mode in ARMS:
        errors = [r["test_error"] for r in transfer[mode]["runs"]]
        assert len(errors) == 1  # one seed (seed_summary: its own tests)
        assert transfer[mode]["test_error"] == pytest.approx(np.mean(errors))
        assert transfer[mode]["test_error_sd"] == 0.0
    assert results["deepfool"]["examples"] == 16  # SMOKE, of 16 test images
    assert results["deepfool"]["rho_all"] >= 0
    assert results["options"]["activation"] == "tanh"
    rows = results["readme_rows"]
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"what", "ours", "paper", "holds"}
        assert row["holds"] in HOLDS
    errors = [100 * transfer[m]["test_error"] for m in ARMS]
    sds = [100 * transfer[m]["test_error_sd"] for m in ARMS]
    assert rows[0]["ours"].endswith(
        " / ".join(f"{e:.1f} ± {d:.1f}" for e, d in zip(errors, sds)) + " %"
    )
    beats = (errors[0] < errors[3]) + (errors[1] < errors[3])
    assert rows[0]["holds"] == ["no", "partly", "yes"][beats]
    assert rows[1]["paper"] == "0.20 (LeNet on MNIST)"
    for name in (
        "results.json",
        "source_curves.png",
        "transfer_curves.png",
        "deepfool_examples.png",
        "activation_maximization.png",
        "source/lenet5.weights.h5",
        "from_scratch/seed0/history.csv",
        "table.md",
    ):
        assert (tmp_path / name).exists(), name
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows and on_disk["smoke"] is True
    assert on_disk["provenance"]["seeds"] == [0]

    # Every arm reused, nothing trains (fit fails).
    with recipe_testing.no_training():
        again = _run(_flags(tmp_path))
    assert all(a["reused"] for a in again["provenance"]["arm_seconds"])
    for key in ("source_test_error", "transfer", "deepfool", "readme_rows"):
        assert again[key] == results[key], key

    # A changed flag reruns the arms (stochastic pooling forces ReLU).
    changed = _run(_flags(tmp_path, pooling="stochastic"))
    assert changed["options"]["activation"] == "relu"
    record = json.loads((tmp_path / "source" / "result.json").read_text())
    assert record["config"]["pooling"] == "stochastic"


@pytest.mark.slow
def test_tune_one_trial(tmp_path):
    results = recipe.run(
        _flags(tmp_path, tune=True, max_trials=1), datasets_override=DATA
    )
    assert len(results["trials"]) == 1
    assert "pooling" in results["best_hyperparameters"]
    assert (tmp_path / "tune" / "trials.csv").exists()


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("lenet")
    for flag in ("--pooling", "--dense", "--rank", "--freeze", "--max_trials"):
        assert flag in help_text, flag
