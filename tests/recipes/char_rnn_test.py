"""recipes/char_rnn.py: samples per epoch and temperature, bits per char."""

import json
import types

import numpy as np
import pytest

from kdl.datasets import Vocabulary
from tests.recipes import recipe_testing

char_rnn = recipe_testing.load_recipe("char_rnn")


# Flags other recipes also define (with their own defaults) when their
# tests run in the same process: pass this recipe's defaults explicitly.
SHARED_DEFAULTS = {
    "learning_rate": 2e-3,
    "clipnorm": 5.0,
    "context_units": 64,
    "embedding_dim": 32,
    "corpus": "shakespeare",
}


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        char_rnn,
        output_dir=str(tmp_path),
        smoke=True,
        **{**SHARED_DEFAULTS, **overrides},
    )


def _tiny_corpus():
    vocab = Vocabulary(["<unk>", *"abc KING."], level="char")
    text = "KING. abc abc cab " * 400
    ids = vocab.encode(text)
    return types.SimpleNamespace(
        train=ids[:5000], valid=ids[5000:6000], test=ids[6000:], vocab=vocab
    )


@pytest.mark.parametrize("rnn", ["lstm", "scrn"])
def test_smoke_run_samples_every_epoch(tmp_path, rnn):
    results = char_rnn.run(
        _flags(tmp_path, rnn=rnn, temperatures=["0.5", "1.0"]),
        datasets_override=_tiny_corpus(),
    )
    samples = results["samples"]
    # Before training (epoch 0) and after the one smoke epoch.
    assert [(s["epoch"], s["temperature"]) for s in samples] == [
        (0, 0.5),
        (0, 1.0),
        (1, 0.5),
        (1, 1.0),
    ]
    assert all(s["text"].startswith("KING. ") for s in samples)
    assert np.isfinite(results["test_bits_per_char"])
    assert results["valid_bits_per_char"][0] < results["uniform_bits_per_char"]
    text = (tmp_path / "samples.txt").read_text()
    assert text.count("=== epoch") == 4
    assert (tmp_path / "bpc.png").exists()


@pytest.mark.slow
def test_cli_smoke_and_help(tmp_path):
    done = recipe_testing.run_recipe(
        "char_rnn", "--smoke", f"--output_dir={tmp_path}"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["corpus"] == "shakespeare" and results["samples"]
    help_text = recipe_testing.run_recipe("char_rnn", "--helpfull").stdout
    for flag in ("--temperatures", "--rnn", "--prime", "--train_chars"):
        assert flag in help_text, flag
