"""recipes/scrn_lm.py: in-process run on synthetic ids, CLI smoke, --help."""

import json

import numpy as np
import pytest

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


def test_run_in_process_and_reuse(tmp_path):
    flags_obj = _flags(
        tmp_path,
        epochs=2,
        batch_size=4,
        bptt=10,
        units=8,
        context_units=4,
        embedding_dim=8,
        epoch_tokens=0,
        valid_tokens=100,
        sample_length=5,
        jit_compile=False,
    )
    results = scrn_lm.run(flags_obj, datasets_override=_synthetic())
    rows = {r["model"]: r for r in results["rows"]}
    assert set(rows) == {"SRN", "LSTM", "SCRN"}
    assert rows["SCRN"]["hidden"] == "8+4"
    for row in rows.values():
        assert len(row["valid_perplexity_per_epoch"]) == 2
        assert 1.0 < row["test_perplexity"] < 20.0
        assert row["tokens_per_second"] > 0
        assert row["sample"].count(" ") == 5 + 4
    assert (tmp_path / "valid_perplexity.png").exists()
    assert "| SCRN | 8+4 |" in (tmp_path / "table.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["rows"][2]["model"] == "SCRN"
    # A second run with the same settings reuses the finished models.
    again = scrn_lm.run(flags_obj, datasets_override=_synthetic())
    assert [r["test_perplexity"] for r in again["rows"]] == [
        r["test_perplexity"] for r in results["rows"]
    ]


def test_epoch_tokens_and_bad_models(tmp_path):
    flags_obj = _flags(
        tmp_path,
        models=["scrn"],
        epochs=2,
        batch_size=4,
        bptt=10,
        units=8,
        context_units=4,
        embedding_dim=8,
        epoch_tokens=200,
        sample_length=0,
        jit_compile=False,
    )
    results = scrn_lm.run(flags_obj, datasets_override=_synthetic())
    assert results["rows"][0]["train_tokens_seen"] == 2 * 5 * 40
    with pytest.raises(ValueError, match="models"):
        scrn_lm.run(
            _flags(tmp_path, models=["gru"]), datasets_override=_synthetic()
        )


@pytest.mark.slow
def test_tune_smoke(tmp_path):
    results = scrn_lm.run(
        _flags(tmp_path, smoke=True, tune=True, max_trials=2),
        datasets_override=_synthetic(),
    )
    assert len(results["trials"]) == 2
    assert (tmp_path / "tune" / "trials.csv").exists()


def test_cli_smoke_and_help(tmp_path):
    done = recipe_testing.run_recipe(
        "scrn_lm", "--smoke", f"--output_dir={tmp_path}", timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["model"] for r in results["rows"]] == ["SRN", "LSTM", "SCRN"]
    assert results["smoke"] is True
    help_text = recipe_testing.run_recipe("scrn_lm", "--helpfull").stdout
    for flag in ("--corpus", "--data_dir", "--bptt", "--clipnorm", "--tune"):
        assert flag in help_text, flag
