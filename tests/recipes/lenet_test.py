"""recipes/lenet.py: smoke runs (pooling / low-rank options), CLI."""

import json

import numpy as np
import pytest

from tests.recipes import recipe_testing

lenet_recipe = recipe_testing.load_recipe("lenet")


# Flags other recipes also define (with their own defaults) when their
# tests run in the same process: pass this recipe's defaults explicitly.
SHARED_DEFAULTS = {"learning_rate": 1e-3}


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        lenet_recipe,
        output_dir=str(tmp_path),
        smoke=True,
        **{**SHARED_DEFAULTS, **overrides},
    )


def _tiny(seed, classes):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, classes, 64).astype("int32")
    x = (rng.rand(64, 12, 12) * 60).astype("uint8")
    for k in range(classes):  # a bright bar per class
        x[y == k, 2 * k : 2 * k + 2, :] = 255
    return (x[:48], y[:48]), (x[48:], y[48:])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"pooling": "fractional"},
        pytest.param(
            {"pooling": "lp", "dense": "low_rank", "rank": 4},
            marks=pytest.mark.slow,
        ),
        pytest.param({"pooling": "stochastic"}, marks=pytest.mark.slow),
    ],
)
def test_smoke_run_with_options(tmp_path, options):
    results = lenet_recipe.run(
        _flags(tmp_path, deepfool_examples=4, **options),
        datasets_override={"source": _tiny(0, 4), "target": _tiny(1, 3)},
    )
    assert 0.0 <= results["source_test_error"] <= 1.0
    rows = results["transfer"]["rows"]
    assert set(rows) == {
        "frozen_features_new_head",
        "fine_tune_all",
        "from_scratch",
    }
    assert (
        rows["frozen_features_new_head"]["trainable_params"]
        < rows["fine_tune_all"]["trainable_params"]
    )
    assert results["deepfool"]["examples"] == 4
    assert results["deepfool"]["rho_all"] >= 0
    if options.get("pooling") == "stochastic":
        assert results["options"]["activation"] == "relu"
    for png in (
        "source_curves.png",
        "transfer_curves.png",
        "deepfool_examples.png",
        "activation_maximization.png",
    ):
        assert (tmp_path / png).exists(), png


def test_tune_smoke(tmp_path):
    results = lenet_recipe.run(
        _flags(tmp_path, tune=True, max_trials=1),
        datasets_override={"source": _tiny(0, 4), "target": _tiny(1, 3)},
    )
    assert len(results["tuning"]["trials"]) == 1


@pytest.mark.slow
def test_cli_smoke_and_help(tmp_path):
    done = recipe_testing.run_recipe(
        "lenet",
        "--smoke",
        f"--output_dir={tmp_path}",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert "deepfool" in results and "transfer" in results
    help_text = recipe_testing.run_recipe("lenet", "--helpfull").stdout
    for flag in ("--pooling", "--dense", "--rank", "--freeze"):
        assert flag in help_text, flag
