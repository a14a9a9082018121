"""recipes/basics.py: smoke runs, cached arms, --tune, the command line."""

import json
import time

import numpy as np
import pytest
from absl import flags

from tests import test_case
from tests.recipes import recipe_testing

basics = recipe_testing.load_recipe("basics")
HOLDS = {"yes", "no", "partly", "n/a"}
PNGS = (
    "perceptron_mistakes.png",
    "weight_change.png",
    "sin_fit.png",
    "init_gradient_norms.png",
    "mlp_curves.png",
)


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        basics, output_dir=str(tmp_path), smoke=True, **overrides
    )


def _digits(n_train=400, n_test=100):
    (x, y), (xt, yt) = basics.load_digits()
    return (x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test])


def test_smoke_run_reuses_finished_arms_and_reruns_changed_ones(
    tmp_path, capsys
):
    data = _digits()
    results = basics.run(_flags(tmp_path), datasets_override=data)
    assert set(basics.PARTS) <= set(results)
    assert results["xor"]["hand_set_accuracy"] == 1.0
    np.testing.assert_allclose(
        results["xor"]["hand_set_logits"], [-1, 1, 1, -1], atol=1e-6
    )
    separable = results["perceptron"]["separable"]
    assert separable["perceptron_mistakes_per_epoch"][-1] == 0
    assert len(separable["perceptron_weight_change_per_epoch"]) == 3
    assert np.isfinite(results["sin"]["grid_mse"])
    assert set(results["init"]["first_over_last_hidden"]) == {
        "fan_in_uniform",
        "glorot_uniform",
    }
    assert 0 <= results["mlp"]["test_accuracy"] <= 1
    rows = results["readme_rows"]
    assert len(rows) == len(basics.PARTS)
    for row in rows:
        assert set(row) == {"what", "ours", "paper", "holds"}
        assert row["holds"] in HOLDS
    assert rows[0]["holds"] == "yes"  # separable: 0 mistakes; other: > 0
    assert rows[1]["ours"].startswith("4/4;")
    assert rows[-1]["holds"] == "n/a"
    for png in PNGS:
        assert (tmp_path / png).exists(), png
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows
    assert on_disk["smoke"] and on_disk["provenance"]["seeds"] == [0, 1]
    capsys.readouterr()

    start = time.process_time()
    again = basics.run(_flags(tmp_path), datasets_override=data)
    assert time.process_time() - start < 5
    assert capsys.readouterr().out.count("Reusing the finished run") == 5
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
    with pytest.raises(flags.Error, match="perceptron.*mlp"):
        values(["basics", "--parts=everything"])
    with pytest.raises(flags.Error, match="one_device"):
        values(["basics", "--strategy=cluster"])


def test_cli_smoke_and_helpfull(tmp_path):
    done = recipe_testing.run_recipe(
        "basics", "--smoke", f"--output_dir={tmp_path}", "--parts=xor"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["readme_rows"][0]["ours"].startswith("4/4;")
    assert "--parts=xor" in results["provenance"]["command"]
    help_text = recipe_testing.run_recipe("basics", "--helpfull").stdout
    for flag in (
        "--output_dir",
        "--strategy",
        "--tune",
        "--parts",
        "--perceptron_epochs",
        "--xor_steps",
        "--sin_steps",
        "--init_seeds",
    ):
        assert flag in help_text, flag
