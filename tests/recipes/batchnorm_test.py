"""recipes/batchnorm.py: smoke run, cached arms per seed, a changed flag
reruns only the arms it changes, tune, CLI help. (Training under two
replicas: tests/models/dataset_training_test.py.)"""

import json

import numpy as np
import pytest

from tests.recipes import recipe_testing

recipe = recipe_testing.load_recipe("batchnorm")
HOLDS = {"yes", "no", "partly", "n/a"}


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        recipe, output_dir=str(tmp_path), **{"smoke": True, **overrides}
    )


def _images(n, seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 10, n)
    x = rng.randint(0, 60, (n, 28, 28)).astype("uint8")
    x[np.arange(n), y * 2, :] = 255  # a learnable stripe per class
    return x, y


DATA = (_images(96, 0), _images(64, 1))


def _run(flags_obj):
    return recipe.run(flags_obj, datasets_override=DATA)


def _arm(tmp_path, name):
    return (tmp_path / name / "result.json").read_text()


@pytest.mark.usefixtures("eager_fits")
def test_smoke_run_reuses_finished_arms_until_a_flag_changes(tmp_path):
    # The ghost part over two seeds (5 arms each): the smoke sizes without
    # --smoke, which runs seed 0 only.
    sizes = {**recipe.SMOKE, "seeds": [0, 1], "parts": ["ghost"]}
    ghost_flags = _flags(tmp_path, smoke=False, **sizes)
    results = _run(ghost_flags)
    ghost = results["ghost"]
    assert "renorm" not in results
    assert list(ghost) == ["small_bn", "epochs", "steps"]
    assert list(ghost["epochs"]) == ["bn", "ghost16"]  # SMOKE: [16]
    assert all(len(v) == 2 for v in ghost["steps"].values())
    # Equal epochs: 96 // 64 = 1 step; equal steps: 96 // 16 = 6 steps.
    assert results["arms"]["epochs_bn_seed0"]["steps"] == [1]
    assert results["arms"]["steps_ghost16_seed1"]["steps"] == [3, 6]
    assert results["arms"]["small_bn_seed0"]["steps"] == [3, 6]
    rows = results["readme_rows"]
    assert len(rows) == 2  # equal epochs, equal steps
    assert rows[0]["what"].startswith(
        "Fashion-MNIST MLP, test acc. gap of batch 64 - 16, equal epochs"
    )
    assert rows[1]["what"].endswith(", 2 seeds: BN / ghost(16)")
    gap = np.subtract(ghost["epochs"]["bn"], ghost["small_bn"])
    sd = np.std(gap, ddof=1)
    assert rows[0]["ours"].startswith(f"{gap.mean():+.3f} ± {sd:+.3f} / ")
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows and on_disk["smoke"] is False
    assert on_disk["provenance"]["seeds"] == [0, 1]
    assert "equal steps" in on_disk["table"]
    for name in ("ghost.png", "ghost.md", "steps_ghost16_seed1/history.csv"):
        assert (tmp_path / name).exists(), name
    small = _arm(tmp_path, "small_bn_seed1")

    # All 10 arms reused, nothing trains (fit fails).
    with recipe_testing.no_training():
        again = _run(ghost_flags)
    reused = [a["reused"] for a in again["provenance"]["arm_seconds"]]
    assert reused == [True] * 10
    assert again["readme_rows"] == rows and again["ghost"] == ghost
    assert _arm(tmp_path, "small_bn_seed1") == small

    # --smoke: seed 0 (its ghost arms reused) and the renorm part.
    results = _run(_flags(tmp_path))
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["smoke"] is True and on_disk["provenance"]["seeds"] == [0]
    assert on_disk["settings"]["train_examples"] == 256  # the SMOKE dict
    assert results["ghost"]["small_bn"] == ghost["small_bn"][:1]
    renorm = results["renorm"]
    assert list(renorm) == ["b4", "grouped"]  # SMOKE: small_batches [4]
    for setting in renorm.values():
        assert list(setting) == ["none", "bn", "renorm", "keras_renorm"]
        assert all(0 <= v[0] <= 1 for v in setting.values())
    rows = results["readme_rows"]
    assert len(rows) == 4  # b4, grouped, equal epochs, equal steps
    for row in rows:
        assert set(row) == {"what", "ours", "paper", "holds"}
        assert row["holds"] in HOLDS
    assert rows[1]["what"] == (
        "Fashion-MNIST MLP, test acc., batch 8 of 2 classes, 4 steps, "
        "1 seeds: none / BN / kdl renorm / Keras renorm"
    )
    assert rows[1]["ours"] == " / ".join(
        f"{renorm['grouped'][n][0]:.3f}" for n in renorm["grouped"]
    )
    for name in ("renorm.png", "renorm.md", "grouped_renorm_seed0/history.csv"):
        assert (tmp_path / name).exists(), name
    b4, grouped = (
        _arm(tmp_path, "b4_bn_seed0"),
        _arm(tmp_path, "grouped_bn_seed0"),
    )

    # A non-i.i.d. flag reruns the grouped arms only.
    changed = _flags(tmp_path, classes_per_batch=1, parts=["renorm"])
    recipe.run(changed, datasets_override=DATA)
    record = json.loads(_arm(tmp_path, "grouped_bn_seed0"))
    assert record["config"]["classes_per_batch"] == 1
    assert _arm(tmp_path, "grouped_bn_seed0") != grouped
    assert _arm(tmp_path, "b4_bn_seed0") == b4
    assert _arm(tmp_path, "small_bn_seed1") == small


def test_tune_one_trial(tmp_path):
    results = recipe.run(
        _flags(tmp_path, tune=True, max_trials=1, tune_variant="ghost"),
        datasets_override=DATA,
    )
    assert len(results["trials"]) == 1
    assert results["best_hyperparameters"]["units"] in (50, 100, 200, 400)
    assert "virtual_batch_size" in results["best_hyperparameters"]
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert (tmp_path / "results.json").exists()


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("batchnorm")
    for flag in (
        "--seeds",
        "--parts",
        "--small_batches",
        "--grouped_batch",
        "--classes_per_batch",
        "--large_batch",
        "--virtual_batch_sizes",
        "--lr_scaling",
        "--renorm_steps",
        "--tune_variant",
        "--max_trials",
        "--smoke",
    ):
        assert flag in help_text, flag


@pytest.mark.parametrize(
    "name", ["small_batches", "virtual_batch_sizes", "seeds"]
)
def test_lists_are_checked(name):
    with pytest.raises(Exception, match=name):
        recipe_testing.flags_for(recipe, **{name: ["4", "-1"]})
