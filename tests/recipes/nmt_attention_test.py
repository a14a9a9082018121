"""recipes/nmt_attention.py: in-process smoke run, subprocess --smoke, help."""

import json

import numpy as np
import pytest

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
    )
    values.update(overrides)
    return recipe_testing.flags_for(nmt, **values)


def test_settings_presets_and_overrides(tmp_path):
    cfg = nmt.settings(_flags(tmp_path, smoke=False, dataset="kjv_rv1909"))
    assert cfg["units"] == kdl.tuning.nmt.PRESETS["kjv_rv1909"]["units"]
    assert cfg["max_length"] == nmt.DATA_PRESETS["kjv_rv1909"]["max_length"]
    assert cfg["length_bins"] == [10, 20, 30, 40]
    assert cfg["beam_widths"] == [4]
    cfg = nmt.settings(
        _flags(tmp_path, smoke=False, units=40, cell="lstm", dropout=0.0)
    )
    assert (cfg["units"], cfg["cell"], cfg["dropout"]) == (40, "lstm", 0.0)
    assert cfg["vocab_size"] == nmt.DATA_PRESETS["dates"]["vocab_size"]


@pytest.mark.slow  # ~40 s; test_subprocess_smoke_and_help runs it too.
def test_smoke_run_in_process(tmp_path):
    results = nmt.run(_flags(tmp_path), datasets_override=tiny_data())
    assert set(results["models"]) == {"attention", "no_attention"}
    for model in results["models"].values():
        for decode in ("greedy", "beam4"):
            r = model["test"][decode]
            assert 0.0 <= r["bleu"] <= 100.0
            assert 0.0 <= r["exact_match"] <= 1.0
            assert set(r["bleu_by_source_length"]) == {
                "1-4",
                "5-6",
                "7-8",
                "9-20",
            }
    assert len(results["heatmaps"]) == 2
    for name in (
        "alignment_0.png",
        "bleu_by_length.png",
        "learning_curves.png",
        "table.md",
        "vocabulary.json",
        "attention.keras",
    ):
        assert (tmp_path / name).exists(), name
    assert "| attention |" in (tmp_path / "table.md").read_text()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["train_pairs"] == 128


def test_references_and_tokens():
    vec = kdl.datasets.TranslationVectorizers.adapt(tiny_pairs(64, 0), 20, 20)
    ids = vec.target(["uno dos."]).to_list()[0]
    tokens = nmt.target_tokens(vec, [[vec.start_id] + ids + [vec.end_id, 5]])
    assert tokens == ["uno dos ."]
    assert nmt.references(["Uno dos."]) == ["uno dos ."]


def test_subprocess_smoke_and_help(tmp_path):
    done = recipe_testing.run_recipe("nmt_attention", "--help")
    # absl's --help prints the flags and exits with status 1.
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "--length_penalty" in done.stdout + done.stderr
    done = recipe_testing.run_recipe(
        "nmt_attention",
        "--smoke",
        "--dataset=dates",
        "--models=attention",
        "--heatmaps=1",
        f"--output_dir={tmp_path}",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["models"]) == {"attention"}
    assert (tmp_path / "alignment_0.png").exists()
