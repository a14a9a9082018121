"""recipes/nat.py: in-process smoke run, subprocess --smoke and --help."""

import json

import numpy as np
import pytest

from tests import test_case
from tests.recipes import recipe_testing

nat = recipe_testing.load_recipe("nat")


def tiny_data(n_train=96, n_test=48, seed=0):
    rng = np.random.RandomState(seed)

    def images(n):
        return rng.rand(n, 28, 28, 1).astype("float32")

    return (
        (images(n_train), rng.randint(0, 10, n_train).astype("int32")),
        (images(n_test), rng.randint(0, 10, n_test).astype("int32")),
    )


def _flags(tmp_path, **overrides):
    overrides.setdefault("finetune_labels", 32)
    overrides.setdefault("curve_examples", 64)
    overrides.setdefault("batch_size", 32)
    return recipe_testing.flags_for(
        nat, output_dir=str(tmp_path), smoke=True, **overrides
    )


def test_smoke_run_in_process(tmp_path):
    results = nat.run(_flags(tmp_path), datasets_override=tiny_data())
    assert set(results["table"]) == set(nat.METHODS)
    for row in results["table"].values():
        assert 0 <= row["probe"] <= 1
        assert 0 <= row["finetune"] <= 1
    assert results["nat_assignment_is_permutation"]
    assert set(results["probe_curve"]) == {"0", "2"}
    for name in ("probe_over_epochs.png", "nat_loss.png", "table.md"):
        assert (tmp_path / name).exists(), name
    table = (tmp_path / "table.md").read_text()
    assert "| NAT (no labels) |" in table
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["num_train"] == 96


@pytest.mark.slow
def test_mirrored_strategy_run(tmp_path):
    strategy = test_case.two_replica_strategy()
    results = nat.run(
        _flags(tmp_path),
        datasets_override=tiny_data(),
        strategy_override=strategy,
    )
    assert results["nat_assignment_is_permutation"]


@pytest.mark.slow
def test_tune_smoke(tmp_path):
    results = nat.run(
        _flags(tmp_path, tune=True, max_trials=1),
        datasets_override=tiny_data(),
    )
    assert len(results["trials"]) == 1
    assert "width" in results["best_hyperparameters"]


@pytest.mark.slow
def test_subprocess_smoke_and_help(tmp_path):
    help_text = recipe_testing.run_recipe("nat", "--helpfull").stdout
    for flag in ("--output_dir", "--strategy", "--tune", "--reassign_every"):
        assert flag in help_text, flag
    done = recipe_testing.run_recipe(
        "nat", "--smoke", f"--output_dir={tmp_path}", timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["nat_assignment_is_permutation"]
