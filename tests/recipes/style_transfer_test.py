"""recipes/style_transfer.py: smoke run, cached arm, CLI --smoke and help."""

import json

import numpy as np
import pytest

from tests.recipes import recipe_testing

style_transfer = recipe_testing.load_recipe("style_transfer")


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        style_transfer, output_dir=str(tmp_path), smoke=True, **overrides
    )


def _images():
    content = np.random.RandomState(0).rand(1, 24, 24, 3).astype("float32")
    stripes = np.zeros((1, 24, 24, 3), "float32")
    stripes[:, ::4] = [1.0, 0.2, 0.0]
    return {"content": content, "style": stripes}


def test_smoke_run_reuses_the_arm_until_a_flag_changes(tmp_path):
    results = style_transfer.run(_flags(tmp_path), datasets_override=_images())
    assert results["style_loss"]["end"] < results["style_loss"]["start"]
    assert results["content_loss"]["start"] == 0.0
    assert results["style_loss_constant"] == 0.25
    assert results["steps"] == 3 and results["image_size"] == 24
    assert results["settings"]["image_size"] == 32  # --smoke applied
    (row,) = results["readme_rows"]
    assert set(row) == {"what", "ours", "paper", "holds"}
    assert row["holds"] == "yes" and "24 px" in row["what"]
    for name in ("result.png", "losses.png", "table.md", "results.json"):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "train" / "history.csv").exists()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["provenance"]["seeds"] == [0]
    assert on_disk["readme_rows"] == results["readme_rows"]

    with recipe_testing.no_training():
        again = style_transfer.run(
            _flags(tmp_path), datasets_override=_images()
        )
    # The arm reused, not trained (fit fails).
    reused = again["provenance"]["arm_seconds"]
    assert [a["reused"] for a in reused] == [True]
    assert again["style_loss"] == results["style_loss"]
    changed = style_transfer.run(
        _flags(tmp_path, tv_weight=0.0), datasets_override=_images()
    )
    assert changed["style_loss"] != results["style_loss"]


def test_sample_images_and_one_device_only(tmp_path):
    image = style_transfer.load_image("flower.jpg", 16)
    assert image.shape == (1, 16, 16, 3)
    assert 0.0 <= image.min() and image.max() <= 1.0
    with pytest.raises(ValueError, match="one device"):
        style_transfer.run(_flags(tmp_path, strategy="mirrored"))


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("style_transfer")
    for flag in ("--style_weight", "--features", "--vgg_weights", "--epochs"):
        assert flag in help_text, flag
    assert "--tune" not in help_text
