"""recipes/nmt_attention.py: smoke run, cached arms, --tune, CLI and help."""

import json
import time

import numpy as np
import pytest
from absl import flags

import kdl
from tests.recipes import recipe_testing

nmt = recipe_testing.load_recipe("nmt_attention")

WORDS = ["uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho"]
ENGLISH = ["one", "two", "three", "four", "five", "six", "seven", "eight"]


def tiny_pairs(n, seed):
    rng = np.random.RandomState(seed)
    pairs = []
    for _ in range(n):
        idx = rng.randint(0, len(WORDS), size=rng.randint(2, 7))
        pairs.append(
            (
                " ".join(ENGLISH[i] for i in idx) + ".",
                " ".join(WORDS[i] for i in idx) + ".",
            )
        )
    return pairs


def tiny_data():
    return kdl.datasets.PairData(
        train=tiny_pairs(128, 0),
        valid=tiny_pairs(32, 1),
        test=tiny_pairs(32, 2),
        name="tiny",
        source="test",
    )


def _flags(tmp_path, **overrides):
    values = dict(
        output_dir=str(tmp_path),
        smoke=True,
        dataset="dates",
        batch_size=32,
        heatmaps=2,
        length_bins=[4, 6, 8, 20],
    )
    values.update(overrides)
    return recipe_testing.flags_for(nmt, **values)


def test_defaults_are_the_hypermodel_defaults(tmp_path):
    values = _flags(tmp_path, smoke=False)
    defaults = kdl.tuning.NMTHyperModel(50, 60, 2, 3).defaults
    assert {k: values[k].value for k in nmt.HYPER} == defaults
    with pytest.raises(flags.IllegalFlagValueError, match="models"):
        _flags(tmp_path, models=["transformer"])
    with pytest.raises(flags.IllegalFlagValueError, match="length_bins"):
        _flags(tmp_path, length_bins=["ten"])


def test_smoke_run_reuses_arms_until_a_flag_changes(tmp_path, capsys):
    results = nmt.run(_flags(tmp_path), datasets_override=tiny_data())
    assert set(results["models"]) == set(nmt.MODELS)
    assert results["train_pairs"] == 128 and results["smoke"]
    for model in results["models"].values():
        assert model["seconds_per_epoch"] > 0
        for decode in ("greedy", "beam4"):
            r = model["test"][decode]
            assert 0.0 <= r["bleu"] <= 100.0
            assert 0.0 <= r["exact_match"] <= 1.0
            bins = r["bleu_by_source_length"]
            assert list(bins) == ["1-4", "5-6", "7-8", "9-20"]
    assert len(results["models"]["attention"]["heatmaps"]) == 2
    rows = results["readme_rows"]
    assert len(rows) == 4
    for row in rows:
        assert set(row) == {"what", "ours", "paper", "holds"}
        assert row["holds"] in {"yes", "no", "partly", "n/a"}
        assert " vs " in row["ours"]
    assert (
        "attention vs no attention vs no attention reversed"
        in (rows[0]["what"])
    )
    assert rows[3]["what"].endswith("no attention reversed vs no attention")
    assert "Sutskever" in rows[3]["paper"]
    reversed_ = results["models"]["no_attention_reversed"]["test"]["greedy"]
    assert reversed_["examples"][0]["source"]  # the source text, not reversed
    assert (tmp_path / "no_attention_reversed.keras").exists()
    for name in (
        "alignment_1.png",
        "bleu_by_length.png",
        "learning_curves.png",
        "table.md",
        "vocabulary.json",
        "attention.keras",
        "results.json",
    ):
        assert (tmp_path / name).exists(), name
    assert "| attention |" in (tmp_path / "table.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows
    assert on_disk["provenance"]["seeds"] == [0]

    capsys.readouterr()
    start = time.perf_counter()
    again = nmt.run(_flags(tmp_path), datasets_override=tiny_data())
    assert time.perf_counter() - start < 10
    assert again["models"] == results["models"]
    assert capsys.readouterr().out.count("Reusing the finished run") == 3

    subset = nmt.run(
        _flags(tmp_path, models=["no_attention"]), datasets_override=tiny_data()
    )
    assert capsys.readouterr().out.count("Reusing the finished run") == 1
    assert subset["models"]["no_attention"] == results["models"]["no_attention"]
    one = nmt.run(
        _flags(tmp_path, models=["no_attention"], length_penalty=0.0),
        datasets_override=tiny_data(),
    )
    assert "Reusing" not in capsys.readouterr().out
    assert set(one["models"]) == {"no_attention"}
    old, new = (r["models"]["no_attention"] for r in (results, one))
    assert new["train_seconds"] != old["train_seconds"]
    assert [r["holds"] for r in one["readme_rows"]] == ["n/a"] * 4


@pytest.mark.slow  # one trial (the search loop: tests/training)
def test_tune_one_trial(tmp_path):
    results = nmt.run(
        _flags(tmp_path, tune=True, max_trials=1),
        datasets_override=tiny_data(),
    )
    assert len(results["trials"]) == 1
    assert "units" in results["best_hyperparameters"]
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert json.loads((tmp_path / "results.json").read_text())["tuner"]


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("nmt_attention")
    for flag in ("--length_penalty", "--beam_widths", "--tune", "--epochs"):
        assert flag in help_text, flag
