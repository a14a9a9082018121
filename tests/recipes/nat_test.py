"""recipes/nat.py: smoke run, cached arms, verdict, --tune, --helpfull."""

import json

import numpy as np
import pytest
from absl import flags

from tests.recipes import recipe_testing

nat = recipe_testing.load_recipe("nat")


def tiny_data(n_train=96, n_test=48, seed=0):
    rng = np.random.RandomState(seed)

    def images(n):
        return (rng.rand(n, 28, 28) * 255).astype("uint8")

    return (
        (images(n_train), rng.randint(0, 10, n_train).astype("int32")),
        (images(n_test), rng.randint(0, 10, n_test).astype("int32")),
    )


def smoke_flags(tmp_path, **overrides):
    return recipe_testing.flags_for(
        nat, output_dir=str(tmp_path), smoke=True, **overrides
    )


@pytest.mark.usefixtures("eager_fits")
def test_smoke_run_then_reused_then_rerun(tmp_path):
    results = nat.run(smoke_flags(tmp_path), datasets_override=tiny_data())

    layers = nat.SMOKE["layers"]
    assert list(results["arms"]) == list(nat.METHODS)  # table order
    for runs in results["arms"].values():
        assert len(runs) == 1  # --smoke: one seed
        assert list(runs[0]["probes"]) == layers
        for scores in runs[0]["probes"].values():
            for key in ("linear", "linear_train", "knn"):
                assert 0 <= scores[key] <= 1, key
    nat_run = results["arms"]["nat"][0]
    assert nat_run["is_permutation"]
    assert set(nat_run["probe_curve"]) == {"0", "2"}
    assert len(nat_run["history"]["loss"]) == nat.SMOKE["epochs"]
    assert results["num_train"] == 96
    assert results["smoke"] and results["settings"]["backbone_width"] == 4
    assert results["provenance"]["seeds"] == [0]
    rows = results["readme_rows"]
    assert "linear probe" in rows[0]["what"] and "k-NN" in rows[1]["what"]
    for row in rows:
        assert set(row) == {"what", "ours", "paper", "holds"}
        assert row["holds"] in {"yes", "no", "partly"}
        assert len(row["ours"].split(" / ")) == 4
        assert "NAT (2 epochs, every-3-epochs reassignment)" in row["what"]
        assert row["paper"].startswith("78.9 / 56.7 / 16.0 / -")
    # One table row per method, layer and probe.
    table = (tmp_path / "table.md").read_text()
    assert table.count("| NAT (no labels) |") == 2 * len(layers)
    assert results["table"] == table.strip()
    assert results["figures"] == [
        "probes_linear.png",
        "probes_knn.png",
        "nat_probe_curve.png",
    ]
    for name in results["figures"] + [
        "results.json",
        "nat_seed0/result.json",
        "nat_seed0/probe_curve.json",
        "supervised_seed0/train/history.csv",
    ]:
        assert (tmp_path / name).exists(), name
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["readme_rows"] == rows

    # Every arm reused, none trained (fit fails).
    with recipe_testing.no_training():
        again = nat.run(smoke_flags(tmp_path), datasets_override=tiny_data())
    reused = again["provenance"]["arm_seconds"]
    assert [a["reused"] for a in reused] == [True] * len(nat.METHODS)
    assert again["arms"] == results["arms"]

    # --methods only picks arms: fewer reuse the finished ones; other data
    # or a changed flag reruns them.
    one = nat.run(
        smoke_flags(tmp_path, methods=["random"]), datasets_override=tiny_data()
    )
    assert list(one["arms"]) == ["random"]
    reused = one["provenance"]["arm_seconds"]
    assert [a["reused"] for a in reused] == [True]
    assert [row["holds"] for row in one["readme_rows"]] == ["n/a", "n/a"]
    assert one["readme_rows"][0]["ours"].startswith("- / - / - / ")
    assert one["figures"] == ["probes_linear.png", "probes_knn.png"]
    other = nat.run(
        smoke_flags(tmp_path, methods=["random"]),
        datasets_override=tiny_data(seed=1),
    )
    assert [a["reused"] for a in other["provenance"]["arm_seconds"]] == [False]
    changed = nat.run(
        smoke_flags(tmp_path, methods=["random"], knn_k=3),
        datasets_override=tiny_data(seed=1),
    )
    assert [a["reused"] for a in changed["provenance"]["arm_seconds"]] == [
        False
    ]


def test_verdict_uses_each_methods_best_layer():
    def at(layer="conv1", **scores):
        return {layer: scores}

    clear, close = [0.90, 0.91, 0.89], [0.885, 0.90, 0.895]
    low, high = [0.80, 0.81, 0.79], [0.95, 0.96, 0.94]
    assert nat.verdict(at(nat=clear, autoencoder=low, random=low)) == "yes"
    # Ahead of random init by less than one sd: partly.
    assert nat.verdict(at(nat=clear, autoencoder=low, random=close)) == (
        "partly"
    )
    assert nat.verdict(at(nat=clear, autoencoder=high, random=low)) == (
        "partly"
    )
    assert nat.verdict(at(nat=low, autoencoder=clear, random=high)) == "no"
    assert nat.verdict(at(autoencoder=low, random=high)) == "n/a"
    # From per-layer means: NAT's best layer (conv2) is compared.
    by_layer = {
        "conv1": {"nat": [0.70, 0.72], "random": [0.80, 0.80]},
        "conv2": {"nat": [0.90, 0.88], "random": [0.82, 0.84]},
    }
    env = type("Env", (), {"settings": smoke_flags("/tmp/unused")})
    row = nat.readme_row(env, "linear", by_layer)
    assert row["holds"] == "yes"
    assert row["ours"] == "- / 89.0 ± 1.4 (conv2) / - / 83.0 ± 1.4 (conv2)"


def test_unknown_method_or_layer_is_rejected():
    with pytest.raises(flags.IllegalFlagValueError, match="methods"):
        recipe_testing.flags_for(nat, methods=["nat", "sparse_coding"])
    with pytest.raises(flags.IllegalFlagValueError, match="layers"):
        recipe_testing.flags_for(nat, layers=["fc7"])


@pytest.mark.slow
def test_tune_one_trial(tmp_path):
    results = nat.run(
        smoke_flags(tmp_path, tune=True, max_trials=1),
        datasets_override=tiny_data(),
    )
    assert len(results["trials"]) == 1
    assert "width" in results["best_hyperparameters"]
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert (tmp_path / "results.json").exists()


def test_help_names_the_flags():
    help_text = recipe_testing.help_text("nat")
    for flag in (
        "--output_dir",
        "--results_json",
        "--strategy",
        "--tune",
        "--methods",
        "--seeds",
        "--layers",
        "--reassign_every",
        "--feature_dim",
        "--knn_k",
        "--nat_optimizer",
        "--train_size",
        "augment_pretraining",
    ):
        assert flag in help_text, flag
