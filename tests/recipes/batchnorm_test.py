"""recipes/batchnorm.py: smoke runs, resume of finished runs, tune, CLI."""

import json

import numpy as np
import pytest

from tests import test_case
from tests.recipes import recipe_testing

recipe = recipe_testing.load_recipe("batchnorm")


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        recipe, output_dir=str(tmp_path), smoke=True, **overrides
    )


def _images(n=96, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 10, n)
    x = rng.randint(0, 60, (n, 28, 28)).astype("uint8")
    x[np.arange(n), y * 2, :] = 255  # a learnable stripe per class
    return x, y


def _data():
    return _images(96, 0), _images(64, 1)


def test_smoke_convnet_in_process_and_resume(tmp_path):
    flags_obj = _flags(tmp_path, variants=["renorm"], parts=["convnet"])
    results = recipe.run(flags_obj, datasets_override=_data())
    table = results["convnet"]["test_accuracy"]
    assert list(table) == ["renorm"]
    assert list(table["renorm"]) == ["32"]  # --smoke: one batch size
    assert 0.0 <= table["renorm"]["32"] <= 1.0
    for png in ("accuracy_vs_batch_size.png", "convnet_curves.png"):
        assert (tmp_path / png).exists(), png
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["convnet"]["test_accuracy"] == table
    assert (tmp_path / "train_renorm_b32" / "history.csv").exists()
    # A restarted recipe reuses the finished runs.
    again = recipe.run(flags_obj, datasets_override=_data())
    assert again["convnet"] == results["convnet"]


@pytest.mark.slow
def test_smoke_run_all_parts_in_process(tmp_path):
    flags_obj = _flags(tmp_path, variants=["none", "bn", "ghost", "l1"])
    results = recipe.run(flags_obj, datasets_override=_data())
    table = results["convnet"]["test_accuracy"]
    assert set(table) == {"none", "bn", "ghost", "l1"}
    assert set(results["lstm"]) == {"lstm", "bnlstm"}
    for cell in ("lstm", "bnlstm"):
        assert 0.0 <= results["lstm"][cell]["test_accuracy"] <= 1.0
    for png in ("lstm_train_loss.png", "lstm_test_accuracy.png"):
        assert (tmp_path / png).exists(), png


@pytest.mark.slow
def test_mirrored_strategy_and_tune(tmp_path):
    strategy = test_case.two_replica_strategy()
    results = recipe.run(
        _flags(tmp_path / "mirrored", variants=["l1"], parts=["convnet"]),
        datasets_override=_data(),
        strategy_override=strategy,
    )
    assert 0 <= results["convnet"]["test_accuracy"]["l1"]["32"] <= 1
    tuned = recipe.run(
        _flags(tmp_path / "tune", tune=True, max_trials=2, batch_size=32),
        datasets_override=_data(),
    )
    assert len(tuned["trials"]) == 2
    assert (tmp_path / "tune" / "tune" / "trials.csv").exists()


@pytest.mark.slow
def test_cli_smoke_on_fashion_mnist(tmp_path):
    done = recipe_testing.run_recipe(
        "batchnorm", "--smoke", f"--output_dir={tmp_path}"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["convnet"]["test_accuracy"]) == {
        "none",
        "bn",
        "renorm",
        "ghost",
        "l1",
    }


def test_cli_help():
    done = recipe_testing.run_recipe("batchnorm", "--helpfull", timeout=120)
    for flag in ("--batch_sizes", "--variants", "--virtual_batch_size"):
        assert flag in done.stdout
