"""recipes/scrn_lm.py: smoke runs on synthetic ids, cached arms, --tune, CLI."""

import json
import time

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


def test_smoke_run_writes_results_and_reuses_finished_arms(tmp_path, capsys):
    flags_obj = _flags(tmp_path, smoke=True)
    start = time.perf_counter()
    results = scrn_lm.run(flags_obj, datasets_override=_synthetic())
    first_seconds = time.perf_counter() - start
    rows = {r["model"]: r for r in results["rows"]}
    assert list(rows) == ["SRN", "LSTM", "SCRN"]
    assert rows["SCRN"]["hidden"] == "8+4" and rows["SRN"]["hidden"] == "8"
    for row in rows.values():
        assert len(row["valid_perplexity_per_epoch"]) == 1
        assert 1.0 < row["test_perplexity"] < 40.0
        assert row["train_tokens_seen"] == 6 * 4 * 8  # 193 tokens, 4 x 8
        assert row["sample"].count(" ") == 5 + 4  # prime 5 + 5 sampled
    (readme,) = results["readme_rows"]
    assert set(readme) == {"what", "ours", "paper", "holds"}
    assert readme["what"].endswith("SRN(8) / LSTM(8) / SCRN(8+4)")
    assert readme["ours"].startswith(f"{rows['SRN']['test_perplexity']:.1f}")
    assert readme["paper"] == "129 / 115 / 115 (PTB, full training)"
    test = {m: r["test_perplexity"] for m, r in rows.items()}
    below = (test["LSTM"] < test["SRN"]) + (test["SCRN"] < test["SRN"])
    assert readme["holds"] == ["no", "partly", "yes"][below]
    assert "| SCRN | 8+4 |" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "valid_perplexity.png").exists()
    assert (tmp_path / "train_scrn" / "result.json").exists()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["smoke"] is True and on_disk["provenance"]["seeds"] == [0]
    assert on_disk["readme_rows"] == results["readme_rows"]
    assert on_disk["settings"]["units"] == 8  # the --smoke value
    capsys.readouterr()
    # The same settings again: every arm is reused, nothing trains.
    start = time.perf_counter()
    again = scrn_lm.run(flags_obj, datasets_override=_synthetic())
    assert time.perf_counter() - start < first_seconds / 2
    assert capsys.readouterr().out.count("Reusing the finished run") == 3
    assert again["rows"] == results["rows"]


def test_changed_flag_reruns_the_arm(tmp_path, capsys):
    tiny = dict(
        models=["scrn"],
        epochs=2,
        batch_size=4,
        bptt=8,
        units=8,
        context_units=4,
        embedding_dim=8,
        sample_length=0,
        jit_compile=False,
    )
    first = scrn_lm.run(
        _flags(tmp_path, epoch_tokens=160, **tiny),
        datasets_override=_synthetic(),
    )
    assert first["rows"][0]["train_tokens_seen"] == 2 * 5 * 32
    assert first["rows"][0]["sample"] == ""
    capsys.readouterr()
    second = scrn_lm.run(
        _flags(tmp_path, epoch_tokens=96, **tiny),
        datasets_override=_synthetic(),
    )
    assert "config changed" in capsys.readouterr().out
    assert second["rows"][0]["train_tokens_seen"] == 2 * 3 * 32
    assert second["readme_rows"][0]["holds"] == "n/a"  # no SRN to beat


def test_readme_holds_and_bad_models(tmp_path):
    def holds(**test):
        rows = [
            dict(
                model=m,
                hidden="1",
                test_perplexity=p,
                valid_perplexity=p,
                tokens_per_second=None,
                paper_ptb_test_perplexity=1.0,
                train_tokens_seen=10,
                epochs=1,
            )
            for m, p in test.items()
        ]
        results = dict(corpus="c", vocab_size=5, train_tokens=10, rows=rows)
        cfg = recipe_testing.flags_for(scrn_lm)
        return scrn_lm.readme_rows(cfg, results)[0]["holds"]

    assert holds(SRN=200, LSTM=190, SCRN=180) == "yes"
    assert holds(SRN=200, LSTM=226, SCRN=191) == "partly"
    assert holds(SRN=200, LSTM=210, SCRN=201) == "no"
    assert holds(SRN=200, SCRN=150) == "yes"
    assert holds(LSTM=100, SCRN=150) == "n/a"
    with pytest.raises(flags.IllegalFlagValueError, match="srn, lstm"):
        _flags(tmp_path, models=["srn", "gru"])


@pytest.mark.slow  # > 20 s wall
def test_tune_smoke(tmp_path):
    results = scrn_lm.run(
        _flags(tmp_path, smoke=True, tune=True, max_trials=2),
        datasets_override=_synthetic(),
    )
    assert len(results["trials"]) == 2
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert json.loads((tmp_path / "results.json").read_text())["trials"]


def test_cli_smoke_and_helpfull(tmp_path):
    done = recipe_testing.run_recipe(
        "scrn_lm", "--smoke", "--models=scrn", f"--output_dir={tmp_path}"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["model"] for r in results["rows"]] == ["SCRN"]
    assert results["smoke"] is True and results["corpus"] == "austen"
    help_text = recipe_testing.run_recipe("scrn_lm", "--helpfull").stdout
    for flag in ("--corpus", "--models", "--max_eval_tokens", "--tune_model"):
        assert flag in help_text, flag
    for flag in ("--epochs", "--precision", "--tune", "--max_trials"):
        assert flag in help_text, flag
