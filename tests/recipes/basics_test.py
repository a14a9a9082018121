"""recipes/basics.py: smoke runs, cached arms, --tune, the command line."""

import json

import pytest
from absl import flags

from kdl import datasets
from tests import test_case
from tests.recipes import recipe_testing

basics = recipe_testing.load_recipe("basics")
PNGS = ("sin_fit.png", "init_gradient_norms.png", "mlp_curves.png")


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        basics, output_dir=str(tmp_path), smoke=True, **overrides
    )


def _digits(n_train=400, n_test=100):
    return datasets.image_splits("digits", n_train, n_test)


def test_smoke_run_reuses_finished_arms_and_reruns_changed_ones(
    tmp_path, capsys
):
    data = _digits()
    results = basics.run(_flags(tmp_path), datasets_override=data)
    assert set(basics.PARTS) <= set(results)
    assert results["sin"]["steps"] == 50
    assert 0 <= results["sin"]["train_mse"] < 10
    norms = results["init"]["gradient_norm_per_layer"]
    assert set(norms) == {"fan_in_uniform", "glorot_uniform"}
    assert len(norms["glorot_uniform"]) == 4  # 3 hidden + output
    assert 0 <= results["mlp"]["test_accuracy"] <= 1
    rows = results["readme_rows"]
    assert len(rows) == len(basics.PARTS)
    for row in rows:
        assert set(row) == {"what", "ours", "paper", "holds"}
        assert row["holds"] in {"yes", "no", "partly", "n/a"}
    assert rows[1]["what"].startswith("3x256 sigmoid MLP")
    assert rows[-1]["holds"] == "n/a"
    for png in PNGS:
        assert (tmp_path / png).exists(), png
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows
    assert on_disk["smoke"] and on_disk["provenance"]["seeds"] == [0]
    capsys.readouterr()

    # Nothing trains (fit fails).
    with recipe_testing.no_training():
        again = basics.run(_flags(tmp_path), datasets_override=data)
    assert capsys.readouterr().out.count("Reusing the finished run") == 3
    assert again["readme_rows"] == rows
    assert again["sin"] == results["sin"]

    # A changed flag reruns the arm (here on two replicas).
    changed = basics.run(
        _flags(tmp_path, parts=["mlp"], seed=1),
        datasets_override=data,
        strategy_override=test_case.two_replica_strategy(),
    )
    assert "Reusing" not in capsys.readouterr().out
    assert changed["mlp"]["epochs_run_this_time"] == 2
    saved = json.loads((tmp_path / "mlp" / "result.json").read_text())
    assert saved["config"]["seed"] == 1


def test_tune_two_trials(tmp_path):
    results = basics.run(
        _flags(tmp_path, tune=True, max_trials=2),
        datasets_override=_digits(200, 50),
    )
    assert len(results["trials"]) == 2
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert (tmp_path / "tune" / "best_hyperparameters.json").exists()
    assert "provenance" in json.loads((tmp_path / "results.json").read_text())


def test_bad_flag_values_name_the_flag_and_the_choices():
    values = flags.FlagValues()
    basics.define_flags(values)
    with pytest.raises(flags.Error, match="sin.*mlp"):
        values(["basics", "--parts=perceptron"])  # now recipes/perceptron.py
    with pytest.raises(flags.Error, match="one_device"):
        values(["basics", "--strategy=cluster"])


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("basics")
    for flag in (
        "--output_dir",
        "--strategy",
        "--tune",
        "--parts",
        "--sin_steps",
        "--init_depth",
        "--init_seeds",
    ):
        assert flag in help_text, flag
