"""recipes/bn_lstm.py: smoke run, per-seed cached arms, CLI and help."""

import json

import numpy as np
import pytest
from absl import flags

from tests.recipes import recipe_testing

bn_lstm = recipe_testing.load_recipe("bn_lstm")


def tiny_digits():
    """Two classes told apart by the brightness of the top rows."""
    rng = np.random.RandomState(0)

    def split(n):
        y = rng.randint(0, 2, n).astype("int32")
        x = rng.randint(0, 60, (n, 28, 28)).astype("uint8")
        x[y == 1, :8] = 255
        return x, y

    return split(160), split(32)


def _flags(tmp_path, **overrides):
    values = dict(output_dir=str(tmp_path), smoke=True)
    values.update(overrides)
    return recipe_testing.flags_for(bn_lstm, **values)


def test_flags_are_checked(tmp_path):
    values = _flags(tmp_path, smoke=False)
    assert values["seeds"].value == [0, 1, 2]
    assert values["models"].value == list(bn_lstm.MODELS)
    with pytest.raises(flags.IllegalFlagValueError, match="models"):
        _flags(tmp_path, models=["gru"])
    with pytest.raises(flags.IllegalFlagValueError, match="seeds"):
        _flags(tmp_path, seeds=["a"])
    with pytest.raises(flags.IllegalFlagValueError, match="threshold"):
        _flags(tmp_path, threshold=1.5)


def test_holds_needs_fewer_steps_and_no_worse_accuracy():
    def summary(lstm_steps, bn_steps, lstm_acc, bn_acc):
        return {
            "lstm": {
                "steps_to_threshold": lstm_steps,
                "test_accuracy": lstm_acc,
            },
            "bnlstm": {"steps_to_threshold": bn_steps, "test_accuracy": bn_acc},
        }

    holds = bn_lstm.holds
    assert holds(summary([300, 500], [100, 200], [0.8], [0.9]), 600) == "yes"
    assert holds(summary([None, None], [100, 200], [0.8], [0.9]), 600) == "yes"
    assert holds(summary([100, 200], [300, 500], [0.8], [0.9]), 600) == "partly"
    assert holds(summary([100], [300], [0.9], [0.8]), 600) == "no"
    assert holds(summary([None], [None], [0.8], [0.9]), 600) == "yes"
    assert holds({"lstm": summary([1], [1], [1], [1])["lstm"]}, 9) == "n/a"


def test_smoke_run_reuses_arms_until_a_flag_changes(tmp_path, capsys):
    # Two seeds: the per-seed lists and a later subset of them; 4 arms.
    two_seeds = _flags(tmp_path, seeds=[0, 1])
    results = bn_lstm.run(two_seeds, datasets_override=tiny_digits())
    assert results["smoke"] and results["sequence_length"] == 49
    sizes = [results[k] for k in ("train_examples", "valid_examples")]
    assert sizes == [64, 32]
    assert set(results["models"]) == {"lstm", "bnlstm"}
    for model in results["models"].values():
        assert len(model["test_accuracy"]) == 2  # seeds 0, 1
        assert all(0 <= a <= 1 for a in model["test_accuracy"])
    for cell, by_seed in results["arms"].items():
        for arm in by_seed.values():
            assert arm["steps"] == [2, 4]
            # BN-LSTM: 2 validations and the test, re-estimated each time.
            estimates = 3 if cell == "bnlstm" else 0
            assert arm["population_estimates"] == estimates
            assert len(arm["val_accuracy"]) == 2
    (row,) = results["readme_rows"]
    assert set(row) == {"what", "ours", "paper", "holds"}
    assert row["holds"] in {"yes", "no", "partly", "n/a"}
    assert "LSTM vs BN-LSTM" in row["what"] and " vs " in row["ours"]
    for name in ("val_accuracy.png", "table.md", "results.json"):
        assert (tmp_path / name).exists(), name
    assert "| BN-LSTM |" in (tmp_path / "table.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == results["readme_rows"]
    assert on_disk["provenance"]["seeds"] == [0, 1]

    capsys.readouterr()
    with recipe_testing.no_training():
        again = bn_lstm.run(two_seeds, datasets_override=tiny_digits())
    # Every arm reused (its record read back), none trained (fit fails).
    assert capsys.readouterr().out.count("Reusing the finished run") == 4
    assert again["models"] == results["models"]

    one = bn_lstm.run(
        _flags(tmp_path, models=["lstm"], seeds=[1]),
        datasets_override=tiny_digits(),
    )
    assert capsys.readouterr().out.count("Reusing the finished run") == 1
    assert one["readme_rows"][0]["holds"] == "n/a"
    permuted = bn_lstm.run(
        _flags(tmp_path, models=["lstm"], seeds=[1], permute=True),
        datasets_override=tiny_digits(),
    )
    assert "Reusing" not in capsys.readouterr().out
    assert "permuted" in permuted["readme_rows"][0]["what"]


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("bn_lstm")
    for flag in ("--threshold", "--permute", "--seeds", "--eval_every"):
        assert flag in help_text, flag
