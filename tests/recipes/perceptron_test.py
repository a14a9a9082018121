"""recipes/perceptron.py: smoke runs, cached arms, the command line."""

import json

import numpy as np
import pytest
from absl import flags

from tests.recipes import recipe_testing

perceptron = recipe_testing.load_recipe("perceptron")


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        perceptron, output_dir=str(tmp_path), smoke=True, **overrides
    )


def test_smoke_run_reuses_finished_arms_and_reruns_changed_ones(
    tmp_path, capsys
):
    results = perceptron.run(_flags(tmp_path))
    assert set(perceptron.PARTS) <= set(results)
    separable = results["perceptron"]["separable"]
    assert separable["perceptron_mistakes_per_epoch"][-1] == 0
    assert len(separable["perceptron_weight_change_per_epoch"]) == 3
    non = results["perceptron"]["non_separable"]
    assert len(non["logistic_loss_per_epoch"]) == 3
    assert results["xor"]["hand_set_accuracy"] == 1.0
    np.testing.assert_allclose(
        results["xor"]["hand_set_logits"], [-1, 1, 1, -1], atol=1e-6
    )
    assert len(results["xor"]["trained_accuracy_per_seed"]) == 2
    rows = results["readme_rows"]
    assert [set(r) for r in rows] == [{"what", "ours", "paper", "holds"}] * 2
    assert rows[0]["holds"] == "yes"  # separable: 0 mistakes; other: > 0
    assert rows[1]["ours"].startswith("4/4;") and rows[1]["holds"] == "yes"
    for png in ("perceptron_mistakes.png", "weight_change.png"):
        assert (tmp_path / png).exists(), png
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows
    assert on_disk["smoke"] and on_disk["provenance"]["seeds"] == [0, 1]
    capsys.readouterr()

    # Nothing trains (fit fails).
    with recipe_testing.no_training():
        again = perceptron.run(_flags(tmp_path))
    assert capsys.readouterr().out.count("Reusing the finished run") == 2
    assert again["readme_rows"] == rows

    changed = perceptron.run(_flags(tmp_path, parts=["xor"], seed=1))
    assert "Reusing" not in capsys.readouterr().out
    assert "xor" in changed and "perceptron" not in changed
    assert changed["provenance"]["seeds"] == [1, 1000, 1001]
    saved = json.loads((tmp_path / "xor" / "result.json").read_text())
    assert saved["config"]["seed"] == 1


def test_bad_flag_values_name_the_flag_and_the_choices():
    values = flags.FlagValues()
    perceptron.define_flags(values)
    with pytest.raises(flags.Error, match="perceptron.*xor"):
        values(["perceptron", "--parts=everything"])
    with pytest.raises(flags.Error, match="xor_steps"):
        values(["perceptron", "--xor_steps=0"])
    assert "tune" not in values  # no HyperModel


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("perceptron")
    for flag in (
        "--output_dir",
        "--strategy",
        "--epochs",
        "--parts",
        "--xor_seeds",
        "--xor_steps",
    ):
        assert flag in help_text, flag
