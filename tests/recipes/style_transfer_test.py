"""recipes/style_transfer.py: the optimisation lowers the style loss."""

import json

import numpy as np
import pytest

from tests.recipes import recipe_testing

style_transfer = recipe_testing.load_recipe("style_transfer")


# Flags other recipes also define (with their own defaults) when their
# tests run in the same process: pass this recipe's defaults explicitly.
SHARED_DEFAULTS = {"learning_rate": 0.02}


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        style_transfer,
        output_dir=str(tmp_path),
        smoke=True,
        **{**SHARED_DEFAULTS, **overrides},
    )


def test_smoke_run_lowers_the_style_loss(tmp_path):
    rng = np.random.RandomState(0)
    content = rng.rand(1, 24, 24, 3).astype("float32")
    stripes = np.zeros((1, 24, 24, 3), "float32")
    stripes[:, ::4] = [1.0, 0.2, 0.0]
    results = style_transfer.run(
        _flags(tmp_path, style_weight=1e6),
        datasets_override={"content": content, "style": stripes},
    )
    assert results["style_loss"]["end"] < results["style_loss"]["start"]
    assert results["content_loss"]["start"] == 0.0
    assert results["style_loss_constant"] == 0.25
    assert (tmp_path / "result.png").exists()
    assert (tmp_path / "train" / "history.csv").exists()


def test_sample_images_and_vgg_needs_weights():
    image = style_transfer.load_image("flower.jpg", 16)
    assert image.shape == (1, 16, 16, 3)
    assert 0.0 <= image.min() and image.max() <= 1.0
    with pytest.raises(ValueError, match="vgg_weights"):
        style_transfer.feature_extractor("vgg19", 0, "")


def test_tune_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="tune"):
        style_transfer.run(_flags(tmp_path, tune=True))


@pytest.mark.slow
def test_cli_smoke_and_help(tmp_path):
    done = recipe_testing.run_recipe(
        "style_transfer", "--smoke", f"--output_dir={tmp_path}"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["features"] == "random"
    help_text = recipe_testing.run_recipe("style_transfer", "--helpfull").stdout
    assert "--style_weight" in help_text
