"""recipes/pretraining.py: smoke runs, cached arms, --tune, the command line."""

import json

import numpy as np
import pytest
from absl import flags

from kdl import training
from tests.recipes import recipe_testing

pretraining = recipe_testing.load_recipe("pretraining")


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        pretraining, output_dir=str(tmp_path), smoke=True, **overrides
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


def test_all_arms_then_reuse_then_rerun_on_a_changed_flag(tmp_path, capsys):
    data = {"tiny": _tiny_data()}
    results = pretraining.run(
        _flags(tmp_path, seeds=[0]), datasets_override=data
    )
    table = results["table"]["tiny"]
    assert list(table) == list(pretraining.METHODS)
    for (row,) in table.values():  # one seed
        assert 0.0 <= row["test_error"] <= 1.0
        assert row["epochs_run"] == 1
    (readme_row,) = results["readme_rows"]
    assert readme_row["what"].startswith("tiny (80 train) test error: DBN")
    assert readme_row["ours"].endswith(" % (1 seeds)")
    assert readme_row["paper"] == "1.2 / 1.4 / 2.0 / 2.4 / 1.9 % (MNIST)"
    paper = pretraining.PAPER_MNIST_TEST_ERROR
    errors = {m: rows[0]["test_error"] for m, rows in table.items()}
    assert readme_row["holds"] == training.ordering_holds(
        errors, sorted(paper, key=paper.get)
    )
    for method in pretraining.METHODS:
        assert (tmp_path / f"filters_tiny_{method}_seed0.png").exists()
    assert "| DBN | 1.2 |" in (tmp_path / "test_error.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["paper_mnist_test_error"]["dbn"] == 0.012
    assert on_disk["hidden_units"] == [16, 16]  # --smoke
    assert on_disk["provenance"]["seeds"] == [0]
    capsys.readouterr()

    # Nothing trains (fit fails).
    with recipe_testing.no_training():
        again = pretraining.run(
            _flags(tmp_path, seeds=[0]), datasets_override=data
        )
    assert capsys.readouterr().out.count("Reusing the finished run") == 5
    assert again["table"] == results["table"]

    # Another method set and seeds: seed 0 of "none" is reused, seed 1
    # trains; the row is the mean (± sd) of both.
    changed = pretraining.run(
        _flags(tmp_path, methods=["none"], seeds=[0, 1]),
        datasets_override=data,
    )
    assert capsys.readouterr().out.count("Reusing the finished run") == 1
    runs = changed["table"]["tiny"]["none"]
    assert len(runs) == 2 and runs[0] == table["none"][0]
    want = training.mean_sd([100 * r["test_error"] for r in runs], ".2f")
    assert changed["readme_rows"][0]["ours"] == f"{want} % (2 seeds)"
    assert changed["readme_rows"][0]["holds"] == "n/a"  # one method: no pair


def test_tune_one_trial(tmp_path):  # the search loop: tests/training
    results = pretraining.run(
        _flags(tmp_path, tune=True, max_trials=1),
        datasets_override={"tiny": _tiny_data()},
    )
    assert len(results["trials"]) == 1
    assert (tmp_path / "tune" / "trials.csv").exists()


def test_bad_methods_and_hidden_units_are_rejected():
    values = flags.FlagValues()
    pretraining.define_flags(values)
    with pytest.raises(flags.Error, match="methods"):
        values(["pretraining", "--methods=dbn,x"])
    with pytest.raises(flags.Error, match="hidden_units"):
        values(["pretraining", "--hidden_units=500,0"])
    with pytest.raises(flags.Error, match="datasets.*mnist_5k"):
        values(["pretraining", "--datasets=cifar10"])


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("pretraining")
    for flag in (
        "--datasets",
        "--methods",
        "--hidden_units",
        "--cd_k",
        "--corruption",
        "--rbm_learning_rate",
        "--patience",
        "--tune",
    ):
        assert flag in help_text, flag
