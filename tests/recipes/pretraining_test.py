"""recipes/pretraining.py: smoke runs in process and on the command line."""

import json

import numpy as np
import pytest

from tests.recipes import recipe_testing

pretraining = recipe_testing.load_recipe("pretraining")


# Flags other recipes also define (with their own defaults) when their
# tests run in the same process: pass this recipe's defaults explicitly.
SHARED_DEFAULTS = {
    "learning_rate": 0.05,
    "train_size": 10000,
    "test_size": 10000,
}


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        pretraining,
        output_dir=str(tmp_path),
        smoke=True,
        **{**SHARED_DEFAULTS, **overrides},
    )


def _tiny_data(seed=0):
    rng = np.random.RandomState(seed)
    # Two classes: bright top half vs bright bottom half of 8x8 images.
    y = rng.randint(0, 2, 120).astype("int32")
    x = rng.rand(120, 8, 8) * 0.3
    x[y == 0, :4] += 0.7
    x[y == 1, 4:] += 0.7
    x = x.reshape(120, 64).astype("float32")
    return {
        "train": (x[:80], y[:80]),
        "valid": (x[80:100], y[80:100]),
        "test": (x[100:], y[100:]),
        "shape": (8, 8),
        "num_classes": 2,
    }


def test_all_rows_on_tiny_data(tmp_path):
    results = pretraining.run(
        _flags(tmp_path, epochs=3),
        datasets_override={"tiny": _tiny_data()},
    )
    table = results["table"]["tiny"]
    assert set(table) == set(pretraining.METHODS)
    for row in table.values():
        assert 0.0 <= row["test_error"] <= 1.0
    for method in pretraining.METHODS:
        assert (tmp_path / f"filters_tiny_{method}.png").exists()
    assert (tmp_path / "test_error.png").exists()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["paper_mnist_test_error"]["dbn"] == 0.012


def test_load_splits_real_digits():
    data = pretraining.load("digits", 500, 100, seed=0)
    x, y = data["train"]
    assert x.shape[1] == 64 and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert len(data["valid"][0]) == 50 and len(x) == 450
    assert len(set(y)) == 10  # random, not class-sorted, validation split
    assert data["shape"] == (8, 8) and data["num_classes"] == 10


@pytest.mark.slow
def test_tune_smoke(tmp_path):
    results = pretraining.run(
        _flags(tmp_path, tune=True, max_trials=1),
        datasets_override={"tiny": _tiny_data()},
    )
    assert len(results["tuning"]["trials"]) == 1


@pytest.mark.slow
def test_cli_smoke_and_help(tmp_path):
    done = recipe_testing.run_recipe(
        "pretraining",
        "--smoke",
        f"--output_dir={tmp_path}",
        "--datasets=digits",
        "--methods=dbn,shallow",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = json.loads((tmp_path / "results.json").read_text())["table"]
    assert set(table["digits"]) == {"dbn", "shallow"}
    help_text = recipe_testing.run_recipe("pretraining", "--helpfull").stdout
    for flag in ("--methods", "--hidden_units", "--cd_k", "--corruption"):
        assert flag in help_text, flag
    bad = recipe_testing.run_recipe(
        "pretraining", "--smoke", f"--output_dir={tmp_path}", "--methods=x"
    )
    assert bad.returncode != 0 and "Unknown --methods" in bad.stderr
