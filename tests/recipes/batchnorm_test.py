"""recipes/batchnorm.py: smoke run, reuse of finished arms, tune, CLI."""

import json
import time

import numpy as np
import pytest

from tests import test_case
from tests.recipes import recipe_testing

recipe = recipe_testing.load_recipe("batchnorm")
HOLDS = {"yes", "no", "partly", "n/a"}


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        recipe, output_dir=str(tmp_path), smoke=True, **overrides
    )


def _images(n, seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 10, n)
    x = rng.randint(0, 60, (n, 28, 28)).astype("uint8")
    x[np.arange(n), y * 2, :] = 255  # a learnable stripe per class
    return x, y


DATA = (_images(96, 0), _images(64, 1))


def _timed_run(flags_obj):
    start = time.process_time()
    results = recipe.run(flags_obj, datasets_override=DATA)
    return results, time.process_time() - start


def test_smoke_run_reuses_finished_arms_until_a_flag_changes(tmp_path):
    flags_obj = _flags(tmp_path, variants=["renorm"])
    results, first_cpu = _timed_run(flags_obj)
    acc = results["convnet"]["test_accuracy"]
    assert list(acc) == ["renorm"] and list(acc["renorm"]) == ["32"]
    assert all(0.0 <= acc[v]["32"] <= 1.0 for v in acc)
    assert set(results["lstm"]["test_accuracy"]) == {"lstm", "bnlstm"}
    assert (results["train_examples"], results["test_examples"]) == (96, 64)
    rows = results["readme_rows"]
    assert len(rows) == 3
    for row in rows:
        assert set(row) == {"what", "ours", "paper", "holds"}
        assert row["holds"] in HOLDS
    assert rows[0]["what"].endswith("x 1 epochs): renorm")
    assert rows[0]["ours"] == f"{acc['renorm']['32']:.3f}"
    assert "BN-LSTM" in rows[2]["what"]
    for name in (
        "results.json",
        "accuracy_vs_batch_size.png",
        "lstm_train_loss.png",
        "convnet_renorm_b32/history.csv",
        "lstm_bnlstm/result.json",
    ):
        assert (tmp_path / name).exists(), name
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows and on_disk["smoke"] is True
    assert on_disk["provenance"]["seeds"] == [0]
    assert on_disk["settings"]["train_examples"] == 128  # the SMOKE dict
    arm = tmp_path / "convnet_renorm_b32" / "result.json"
    first_arm = arm.read_text()

    again, again_cpu = _timed_run(flags_obj)
    assert again["convnet"] == results["convnet"]
    assert again["lstm"] == results["lstm"]
    assert again["readme_rows"] == rows
    assert arm.read_text() == first_arm
    assert again_cpu < first_cpu / 3, (again_cpu, first_cpu)

    # Running fewer arms (--parts, --variants) reuses the finished ones.
    lstm_arm = (tmp_path / "lstm_bnlstm" / "result.json").read_text()
    fewer = recipe.run(_flags(tmp_path, parts=["lstm"]), datasets_override=DATA)
    assert fewer["lstm"] == results["lstm"] and "convnet" not in fewer
    assert (tmp_path / "lstm_bnlstm" / "result.json").read_text() == lstm_arm

    # A changed flag reruns the arm it changes, under the given strategy.
    changed = _flags(
        tmp_path, variants=["renorm"], bn_momentum=0.5, parts=["convnet"]
    )
    strategy = test_case.two_replica_strategy()
    recipe.run(changed, datasets_override=DATA, strategy_override=strategy)
    record = json.loads(arm.read_text())
    assert record["config"]["bn_momentum"] == 0.5


@pytest.mark.slow
def test_tune_two_trials(tmp_path):
    results = recipe.run(
        _flags(tmp_path, tune=True, max_trials=2, tune_variant="ghost"),
        datasets_override=DATA,
    )
    assert len(results["trials"]) == 2
    assert "virtual_batch_size" in results["best_hyperparameters"]
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert (tmp_path / "results.json").exists()


@pytest.mark.slow
def test_cli_smoke_and_help(tmp_path):
    done = recipe_testing.run_recipe(
        "batchnorm",
        "--smoke",
        "--variants=bn",
        "--parts=convnet",
        f"--output_dir={tmp_path}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["convnet"]["test_accuracy"]) == ["bn"]
    assert results["test_examples"] == 128  # real Fashion-MNIST, smoke size
    assert results["provenance"]["command"].startswith("python ")
    help_text = recipe_testing.help_text("batchnorm")
    for flag in (
        "--batch_sizes",
        "--variants",
        "--virtual_batch_size",
        "--row_stride",
        "--tune_variant",
        "--max_trials",
        "--smoke",
    ):
        assert flag in help_text, flag


def test_batch_sizes_must_be_positive_integers():
    with pytest.raises(Exception, match="batch_sizes"):
        recipe_testing.flags_for(recipe, batch_sizes=["4", "0"])
