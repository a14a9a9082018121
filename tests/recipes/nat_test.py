"""recipes/nat.py: smoke run, cached arms, --tune, CLI and --helpfull."""

import json
import time

import numpy as np
import pytest
from absl import flags

from tests.recipes import recipe_testing

nat = recipe_testing.load_recipe("nat")


def tiny_data(n_train=96, n_test=48, seed=0):
    rng = np.random.RandomState(seed)

    def images(n):
        return (rng.rand(n, 28, 28) * 255).astype("uint8")

    return (
        (images(n_train), rng.randint(0, 10, n_train).astype("int32")),
        (images(n_test), rng.randint(0, 10, n_test).astype("int32")),
    )


def smoke_flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        nat, output_dir=str(tmp_path), smoke=True, **overrides
    )


def test_smoke_run_then_reused_then_rerun(tmp_path):
    start = time.perf_counter()
    results = nat.run(smoke_flags(tmp_path), datasets_override=tiny_data())
    first_seconds = time.perf_counter() - start

    assert set(results["arms"]) == set(nat.ARMS)
    for arm in results["arms"].values():
        for key in ("probe", "probe_train", "finetune"):
            assert 0 <= arm[key] <= 1, key
    nat_arm = results["arms"]["nat"]
    assert nat_arm["is_permutation"]
    assert set(nat_arm["probe_curve"]) == {"0", "2"}
    assert len(nat_arm["history"]["loss"]) == nat.SMOKE["epochs"]
    assert results["num_train"] == 96
    assert results["smoke"] and results["settings"]["backbone_width"] == 8
    assert results["provenance"]["seeds"] == [0]
    rows = results["readme_rows"]
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"what", "ours", "paper", "holds"}
        assert row["holds"] in {"yes", "no", "partly"}
        assert len(row["ours"].split(" / ")) == 4
    assert "NAT (2 epochs, per-batch reassignment)" in rows[0]["what"]
    assert rows[0]["paper"].startswith("78.9 / 56.7 / 16.0 / -")
    for name in (
        "results.json",
        "table.md",
        "probe_over_epochs.png",
        "nat_loss.png",
        "nat/result.json",
        "nat/probe_curve.json",
        "supervised/train/history.csv",
    ):
        assert (tmp_path / name).exists(), name
    assert "| NAT (no labels) |" in (tmp_path / "table.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows

    start = time.perf_counter()
    again = nat.run(smoke_flags(tmp_path), datasets_override=tiny_data())
    assert time.perf_counter() - start < first_seconds / 3
    assert again["arms"] == results["arms"]  # incl. each arm's seconds

    # --methods only picks arms: fewer reuse the finished ones; other data
    # or a changed flag reruns them.
    one = nat.run(
        smoke_flags(tmp_path, methods=["random"]), datasets_override=tiny_data()
    )
    assert set(one["arms"]) == {"random"}
    before = results["arms"]["random"]
    assert one["arms"]["random"] == before
    assert [row["holds"] for row in one["readme_rows"]] == ["n/a", "n/a"]
    assert one["readme_rows"][0]["ours"].startswith("- / - / - / ")
    other = nat.run(
        smoke_flags(tmp_path, methods=["random"]),
        datasets_override=tiny_data(seed=1),
    )
    rerun = other["arms"]["random"]
    assert rerun["seconds"] != before["seconds"]
    changed = nat.run(
        smoke_flags(tmp_path, methods=["random"], reassign_every=0),
        datasets_override=tiny_data(seed=1),
    )
    assert changed["arms"]["random"]["seconds"] != rerun["seconds"]


def test_unknown_method_is_rejected():
    with pytest.raises(flags.IllegalFlagValueError, match="methods"):
        recipe_testing.flags_for(nat, methods=["nat", "sparse_coding"])


@pytest.mark.slow
def test_tune_one_trial(tmp_path):
    results = nat.run(
        smoke_flags(tmp_path, tune=True, max_trials=1),
        datasets_override=tiny_data(),
    )
    assert len(results["trials"]) == 1
    assert "width" in results["best_hyperparameters"]
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert (tmp_path / "results.json").exists()


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("nat")
    for flag in (
        "--output_dir",
        "--results_json",
        "--strategy",
        "--tune",
        "--methods",
        "--reassign_every",
        "--train_size",
        "augment_pretraining",
    ):
        assert flag in help_text, flag
