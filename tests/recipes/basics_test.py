"""recipes/basics.py: smoke runs, flags, kill-and-resume, MirroredStrategy."""

import csv
import json
import subprocess
import sys
import time

import numpy as np

from tests import test_case
from tests.recipes import recipe_testing

basics = recipe_testing.load_recipe("basics")


def _flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        basics, output_dir=str(tmp_path), smoke=True, **overrides
    )


def test_smoke_run_in_process(tmp_path):
    results = basics.run(_flags(tmp_path))
    assert results["xor"]["hand_set_accuracy"] == 1.0
    np.testing.assert_allclose(
        results["xor"]["hand_set_logits"], [-1, 1, 1, -1], atol=1e-6
    )
    separable = results["perceptron"]["separable"]
    assert separable["perceptron_final_mistakes"] == 0
    assert (
        results["perceptron"]["non_separable"]["perceptron_final_mistakes"] > 0
    )
    assert np.isfinite(results["sin"]["train_mse"])
    init = results["init"]
    assert set(init) == {"fan_in_uniform", "glorot_uniform"}
    assert 0 <= results["mlp"]["test_accuracy"] <= 1
    for png in (
        "perceptron_mistakes.png",
        "weight_change.png",
        "sin_fit.png",
        "init_gradient_norms.png",
        "mlp_curves.png",
    ):
        assert (tmp_path / png).exists(), png
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["xor"]["hand_set_accuracy"] == 1.0


def test_hand_set_xor_net_is_the_lecture_net():
    model = basics.hand_set_xor_net()
    w, b = model.get_layer("hidden_0").get_weights()
    np.testing.assert_array_equal(w, [[1, -1], [-1, 1]])
    np.testing.assert_array_equal(b, [-0.5, -0.5])
    logits = np.asarray(model(basics.XOR_X)).reshape(-1)
    np.testing.assert_array_equal(logits > 0, basics.XOR_Y > 0.5)


def test_mirrored_strategy_run(tmp_path):
    strategy = test_case.two_replica_strategy()
    results = basics.run(
        _flags(tmp_path, parts=["mlp"]), strategy_override=strategy
    )
    assert 0 <= results["mlp"]["test_accuracy"] <= 1


def test_tune_smoke(tmp_path):
    results = basics.run(
        _flags(tmp_path, parts=["mlp"], tune=True, max_trials=2)
    )
    tuning = results["mlp_tuning"]
    assert len(tuning["trials"]) == 2
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert (tmp_path / "tune" / "best_hyperparameters.json").exists()


def test_cli_smoke_and_help(tmp_path):
    done = recipe_testing.run_recipe(
        "basics", "--smoke", f"--output_dir={tmp_path}", "--parts=xor"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "results.json").read_text())["xor"]
    help_text = recipe_testing.run_recipe("basics", "--help").stdout
    for flag in (
        "--output_dir",
        "--strategy",
        "--precision",
        "--tune",
        "--parts",
    ):
        assert flag in help_text, flag


def test_cli_rejects_bad_flag_values(tmp_path):
    done = recipe_testing.run_recipe(
        "basics", "--strategy=cluster", f"--output_dir={tmp_path}"
    )
    assert done.returncode != 0
    assert "--strategy" in done.stderr
    assert "auto|one_device|mirrored|multi_worker|tpu" in done.stderr
    done = recipe_testing.run_recipe("basics", "--parts=everything")
    assert done.returncode != 0
    assert "perceptron" in done.stderr and "mlp" in done.stderr


def _epochs(csv_path):
    if not csv_path.exists():
        return []
    with open(csv_path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_kill_and_resume(tmp_path):
    """A SIGKILLed run restarts from its last saved epoch, not from 0."""
    args = [
        sys.executable,
        recipe_testing.recipe_path("basics"),
        f"--output_dir={tmp_path}",
        "--parts=mlp",
        "--epochs=30",
        "--batch_size=4",
    ]
    history = tmp_path / "train_mlp" / "history.csv"
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=recipe_testing.ROOT,
    )
    deadline = time.time() + 240
    while len(_epochs(history)) < 2 and time.time() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    killed_after = _epochs(history)
    assert 2 <= len(killed_after) < 30
    assert (tmp_path / "train_mlp" / "backup").exists()

    done = subprocess.run(
        args, capture_output=True, text=True, cwd=recipe_testing.ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    epochs = _epochs(history)
    resumed = epochs[len(killed_after) :]
    # The second run starts where the first stopped (at most one epoch
    # whose backup was written but whose CSV row was not is skipped).
    assert resumed[0] in (killed_after[-1] + 1, killed_after[-1] + 2)
    assert epochs == sorted(set(epochs))
    assert epochs[-1] == 29
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mlp"]["epochs_run_this_time"] == len(resumed)
    # The backup is removed once training completes.
    assert not (tmp_path / "train_mlp" / "backup").exists()
