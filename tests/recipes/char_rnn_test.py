"""recipes/char_rnn.py: samples per epoch and temperature, bits per char."""

import json

import numpy as np

from kdl.datasets import TextData
from kdl.datasets import Vocabulary
from tests.recipes import recipe_testing

char_rnn = recipe_testing.load_recipe("char_rnn")


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        char_rnn, output_dir=str(tmp_path), smoke=True, **overrides
    )


def _tiny_corpus():
    vocab = Vocabulary(["<unk>", *"abc KING."], level="char")
    ids = vocab.encode("KING. abc abc cab " * 400)
    return TextData(
        train=ids[:5000],
        valid=ids[5000:6000],
        test=ids[6000:],
        vocab=vocab,
        name="tiny",
        level="char",
        source="test",
    )


def test_smoke_run_samples_every_epoch_and_reuses_the_arm(tmp_path, capsys):
    flags_obj = _flags(tmp_path, temperatures=["0.5", "1.0"])
    results = char_rnn.run(flags_obj, datasets_override=_tiny_corpus())
    samples = results["samples"]
    # Before training (epoch 0) and after the one smoke epoch.
    assert [(s["epoch"], s["temperature"]) for s in samples] == [
        (0, 0.5),
        (0, 1.0),
        (1, 0.5),
        (1, 1.0),
    ]
    assert all(s["text"].startswith("KING. ") for s in samples)
    assert all(len(s["text"]) >= 6 + 40 for s in samples)  # <unk>: 5
    assert np.isfinite(results["test_bits_per_char"])
    assert results["valid_bits_per_char"][0] < results["uniform_bits_per_char"]
    assert results["train_chars"] == 4000
    (row,) = results["readme_rows"]
    assert row["what"] == (
        "LSTM-16, tiny, 4,000 characters, 1 epochs: test bits per character"
    )
    assert row["ours"] == f"{results['test_bits_per_char']:.2f}"
    assert (row["paper"], row["holds"]) == ("-", "n/a")
    assert (tmp_path / "samples.txt").read_text().count("=== epoch") == 4
    assert (tmp_path / "bpc.png").exists()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == results["readme_rows"]
    assert on_disk["smoke"] is True and on_disk["provenance"]["seeds"] == [0]
    capsys.readouterr()
    with recipe_testing.no_training():
        again = char_rnn.run(flags_obj, datasets_override=_tiny_corpus())
    # The arm reused (its record read back), not trained (fit fails).
    assert capsys.readouterr().out.count("Reusing the finished run") == 1
    assert again["samples"] == samples
    assert again["test_bits_per_char"] == results["test_bits_per_char"]


def test_changed_flag_reruns_with_scrn(tmp_path, capsys):
    char_rnn.run(_flags(tmp_path), datasets_override=_tiny_corpus())
    capsys.readouterr()
    results = char_rnn.run(
        _flags(tmp_path, rnn="scrn", temperatures=["1.0"]),
        datasets_override=_tiny_corpus(),
    )
    assert "config changed" in capsys.readouterr().out
    assert [s["epoch"] for s in results["samples"]] == [0, 1]
    assert results["readme_rows"][0]["what"].startswith("SCRN-16+64, tiny")
    assert (tmp_path / "samples.txt").read_text().count("=== epoch") == 2


def test_tune_one_trial(tmp_path):
    results = char_rnn.run(
        _flags(tmp_path, tune=True, max_trials=1),
        datasets_override=_tiny_corpus(),
    )
    assert len(results["trials"]) == 1
    assert (tmp_path / "tune" / "trials.csv").exists()


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("char_rnn")
    for flag in ("--temperatures", "--rnn", "--prime", "--train_chars"):
        assert flag in help_text, flag
    for flag in ("--epochs", "--seed", "--tune", "--max_trials"):
        assert flag in help_text, flag
