"""recipes/nmt_attention.py: smoke run, cached arms, --tune, CLI and help."""

import json
import types

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
    # Two training batches of 32; 8 test sentences decoded (--eval_examples).
    return kdl.datasets.PairData(
        train=tiny_pairs(64, 0),
        valid=tiny_pairs(16, 1),
        test=tiny_pairs(16, 2),
        name="tiny",
        source="test",
    )


def _flags(tmp_path, **overrides):
    values = dict(
        output_dir=str(tmp_path),
        smoke=True,
        dataset="dates",
        batch_size=32,
        eval_examples=8,
        heatmaps=1,
        length_bins=[4, 6, 8, 20],
        seeds=[0],
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


@pytest.mark.usefixtures("eager_fits")
def test_smoke_run_reuses_arms_until_a_flag_changes(tmp_path, capsys):
    results = nmt.run(_flags(tmp_path), datasets_override=tiny_data())
    assert set(results["models"]) == set(nmt.MODELS)
    assert results["train_pairs"] == 64 and results["smoke"]
    for (model,) in results["models"].values():  # one seed
        assert model["seconds_per_epoch"] > 0
        for decode in ("greedy", "beam4"):
            r = model["test"][decode]
            assert 0.0 <= r["bleu"] <= 100.0
            assert 0.0 <= r["exact_match"] <= 1.0
            bins = r["bleu_by_source_length"]
            assert list(bins) == ["1-4", "5-6", "7-8", "9-20"]
    assert len(results["models"]["attention"][0]["heatmaps"]) == 1
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
    reversed_ = results["models"]["no_attention_reversed"][0]["test"]["greedy"]
    assert reversed_["examples"][0]["source"]  # the source text, not reversed
    assert (tmp_path / "no_attention_reversed_seed0.keras").exists()
    for name in (
        "alignment_0.png",
        "bleu_by_length.png",
        "learning_curves.png",
        "table.md",
        "vocabulary.json",
        "attention_seed0.keras",
        "results.json",
    ):
        assert (tmp_path / name).exists(), name
    assert "| attention |" in (tmp_path / "table.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows
    assert on_disk["provenance"]["seeds"] == [0]

    capsys.readouterr()
    with recipe_testing.no_training():
        again = nmt.run(_flags(tmp_path), datasets_override=tiny_data())
    # Every arm reused (below), none trained (fit fails).
    assert again["models"] == results["models"]
    assert capsys.readouterr().out.count("Reusing the finished run") == 3

    subset = nmt.run(
        _flags(tmp_path, models=["no_attention"]), datasets_override=tiny_data()
    )
    assert capsys.readouterr().out.count("Reusing the finished run") == 1
    assert subset["models"]["no_attention"] == results["models"]["no_attention"]


def test_readme_rows_are_over_seeds():
    def run(bleu, exact=0.0, by_length=(1.0, None)):
        bins = {f"b{i}": {"bleu": b} for i, b in enumerate(by_length)}
        test = {"bleu": bleu, "bleu_by_source_length": bins}
        greedy = {"exact_match": exact, **test}
        return {"test": {"beam4": test, "greedy": greedy}}

    cfg = types.SimpleNamespace(
        beam_widths=[4], seeds=[0, 1], length_bins=[5, 9], dataset="dates"
    )
    arms = {
        "attention": [run(9.0, by_length=(3, 2)), run(11.0, by_length=(5, 4))],
        "no_attention": [run(2.0), run(3.5)],
        "no_attention_reversed": [run(3.0), run(2.9)],
    }
    bleu, lengths, exact, reversed_ = nmt.readme_rows(cfg, arms)
    assert bleu["ours"] == "10.00 ± 1.41 vs 2.75 ± 1.06 vs 2.95 ± 0.07"
    assert "mean ± sd over 2 seeds" in bleu["what"] and bleu["holds"] == "yes"
    assert lengths["ours"] == "4.0, 3.0 vs 1.0, - vs 1.0, -"
    assert lengths["holds"] == "yes"  # bins without a value are left out
    assert exact["holds"] == "n/a"  # no exact translation: nothing to order
    assert reversed_["ours"] == "2.95 ± 0.07 vs 2.75 ± 1.06"
    assert reversed_["holds"] == "partly"  # ahead by less than one sd
    arms["no_attention"][0] = run(2.0, exact=0.5)
    assert nmt.readme_rows(cfg, arms)[2]["holds"] == "no"


@pytest.mark.slow  # one trial (the search loop: tests/training)
@pytest.mark.usefixtures("eager_fits")
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
