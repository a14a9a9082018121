"""recipes/scrn_lm.py: smoke runs on synthetic ids, cached arms, --tune, CLI."""

import json

import numpy as np
import pytest
from absl import flags

from kdl.datasets import TextData
from kdl.datasets import Vocabulary
from tests.recipes import recipe_testing

scrn_lm = recipe_testing.load_recipe("scrn_lm")


def _synthetic():
    rng = np.random.RandomState(0)
    vocab = Vocabulary(["<unk>", "<eos>", *[f"w{i}" for i in range(18)]])
    # A stream with structure (a repeating 5-cycle plus noise).
    ids = (np.arange(3000) % 5 + 2).astype("int32")
    noise = rng.rand(3000) < 0.1
    ids[noise] = rng.randint(0, 20, noise.sum())
    return TextData(
        train=ids[:2400],
        valid=ids[2400:2700],
        test=ids[2700:],
        vocab=vocab,
        name="synthetic",
        level="word",
        source="test",
    )


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        scrn_lm, output_dir=str(tmp_path), **overrides
    )


# --smoke reads 192 tokens (6 steps an epoch): eager beats tracing each arm.
@pytest.mark.usefixtures("eager_fits")
def test_smoke_run_writes_both_tables_and_reuses_finished_arms(
    tmp_path, capsys
):
    flags_obj = _flags(tmp_path, smoke=True)
    results = scrn_lm.run(flags_obj, datasets_override=_synthetic())
    rows = {r["model"]: r for r in results["rows"]}
    assert list(rows) == ["KN5", "KN5 + cache", "FFNN5", "SRN", "LSTM", "SCRN"]
    assert rows["SCRN"]["hidden"] == "8+4" and rows["SRN"]["hidden"] == "8"
    # Deterministic counting rows have one run, trained rows one per seed.
    assert [len(rows[m]["runs"]) for m in rows] == [1, 1, 2, 2, 2, 2]
    for name in ("FFNN5", "SRN", "LSTM", "SCRN"):
        row = rows[name]
        tests = [r["test_perplexity"] for r in row["runs"]]
        assert row["test_perplexity"] == pytest.approx(np.mean(tests))
        assert row["test_perplexity_sd"] == pytest.approx(np.std(tests, ddof=1))
        assert row["seeds"] == 2 and "±" in row["test"]
        for run in row["runs"]:
            assert 1 <= run["epochs"] <= 2
            assert 1.0 < run["test_perplexity"] < 40.0
    # The synthetic stream is a noisy 5-cycle: every model learns it.
    assert rows["KN5"]["test_perplexity"] < 5.0
    assert rows["SRN"]["sample"].count(" ") == 5 + 4  # prime 5 + 5 sampled
    practice, scrn = results["readme_rows"]
    assert practice["what"].endswith("KN5 / FFNN5 / SRN")
    assert scrn["what"].endswith("KN5 / KN5 + cache / SRN / LSTM / SCRN")
    assert "2 seeds" in scrn["what"]
    assert scrn["paper"] == "141 / 125 / 129 / 115 / 115 (PTB)"
    assert practice["ours"].split(" / ")[2] == (
        f"{rows['SRN']['test_perplexity']:.1f}"
    )
    table = (tmp_path / "table.md").read_text()
    assert "| SCRN | 8+4 |" in table and "| KN5 + cache | - |" in table
    assert (tmp_path / "valid_perplexity.png").exists()
    assert (tmp_path / "scrn_seed1" / "result.json").exists()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["smoke"] is True and on_disk["provenance"]["seeds"] == [0, 1]
    assert on_disk["readme_rows"] == results["readme_rows"]
    assert on_disk["settings"]["units"] == 8  # the --smoke value
    capsys.readouterr()
    # The same settings again: every arm is reused, nothing trains (fit
    # fails).
    with recipe_testing.no_training():
        again = scrn_lm.run(flags_obj, datasets_override=_synthetic())
    assert capsys.readouterr().out.count("Reusing the finished run") == 9
    assert again["rows"] == results["rows"]


def test_changed_flag_reruns_the_arm(tmp_path, capsys):
    tiny = dict(
        models=["scrn"],
        seeds=[3],
        epochs=2,
        batch_size=4,
        bptt=8,
        units=8,
        context_units=4,
        embedding_dim=8,
        sample_length=0,
        cutoffs=[8],
        jit_compile=False,
    )
    first = scrn_lm.run(
        _flags(tmp_path, **tiny), datasets_override=_synthetic()
    )
    assert first["rows"][0]["runs"][0]["sample_ids"] == []
    assert first["provenance"]["seeds"] == [3]
    capsys.readouterr()
    second = scrn_lm.run(
        _flags(tmp_path, softmax="full", **tiny),
        datasets_override=_synthetic(),
    )
    assert "config changed" in capsys.readouterr().out
    assert second["rows"][0]["parameters"] != first["rows"][0]["parameters"]
    assert second["readme_rows"] == []  # no table is complete


def test_readme_holds_and_bad_models(tmp_path):
    def holds(**test):
        names = {"KN": "KN5", "CACHE": "KN5 + cache", "FFNN": "FFNN5"}
        rows = [
            dict(model=names.get(m, m), test_perplexity=p)
            for m, p in test.items()
        ]
        results = dict(corpus="c", vocab_size=5, seeds=3, rows=rows)
        return [r["holds"] for r in scrn_lm.readme_rows(results, 5)]

    paper = dict(KN=141, CACHE=125, FFNN=140, SRN=129, LSTM=115, SCRN=115)
    assert holds(**paper) == ["yes", "yes"]
    # SCRN far better than LSTM is not "SCRN ~ LSTM".
    assert holds(**{**paper, "SCRN": 100}) == ["yes", "partly"]
    assert holds(**{**paper, "SRN": 150}) == ["no", "yes"]
    assert holds(**{**paper, "SRN": 140.5}) == ["partly", "yes"]
    assert holds(KN=141, FFNN=140, SRN=125) == ["yes"]
    assert holds(SRN=1, LSTM=1, SCRN=1) == []
    with pytest.raises(flags.IllegalFlagValueError, match="gru"):
        _flags(tmp_path, models=["srn", "gru"])


@pytest.mark.slow  # > 20 s wall
@pytest.mark.usefixtures("eager_fits")
def test_tune_smoke(tmp_path):
    results = scrn_lm.run(
        _flags(tmp_path, smoke=True, tune=True, max_trials=2),
        datasets_override=_synthetic(),
    )
    assert len(results["trials"]) == 2
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert json.loads((tmp_path / "results.json").read_text())["trials"]


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("scrn_lm")
    for flag in ("--corpus", "--models", "--seeds", "--softmax", "--cutoffs"):
        assert flag in help_text, flag
    for flag in ("--epochs", "--precision", "--tune", "--max_trials"):
        assert flag in help_text, flag
