"""recipes/glo.py: smoke run in-process (synthetic data) and as a script."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.recipes import recipe_testing
from tests.test_case import TestCase
from tests.test_case import two_replica_strategy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
RECIPE = os.path.join(ROOT, "recipes", "glo.py")


def load_glo_recipe():
    spec = importlib.util.spec_from_file_location("recipe_glo", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flags_for(recipe, **overrides):
    return recipe_testing.flags_for(recipe, **overrides)


def synthetic(n_train=300, n_test=40):
    rng = np.random.RandomState(0)
    x = (rng.uniform(size=(n_train + n_test, 28, 28)) * 255).astype("uint8")
    y = np.zeros(n_train + n_test, "int32")
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


class GLORecipeTest(TestCase):
    def test_smoke_run_in_process(self):
        recipe = load_glo_recipe()
        out = self.get_temp_dir()
        results = recipe.run(
            flags_for(recipe, smoke=True, output_dir=out),
            datasets_override=synthetic(),
        )
        self.assertEqual(set(results["runs"]), {"lap1_pca", "l2_random"})
        for run in results["runs"].values():
            self.assertTrue(np.isfinite(run["train_mse"]))
            self.assertTrue(np.isfinite(run["test_mse_encoded"]))
        for name in (
            "results.json",
            "samples.png",
            "interpolations.png",
            "mse.png",
            "reconstructions_lap1_pca.png",
            "reconstructions_l2_random.png",
        ):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)

    @pytest.mark.slow
    def test_smoke_run_mirrored(self):
        recipe = load_glo_recipe()
        out = self.get_temp_dir()
        results = recipe.run(
            flags_for(
                recipe, smoke=True, output_dir=out, losses=["l2"], inits=["pca"]
            ),
            datasets_override=synthetic(),
            strategy_override=two_replica_strategy(),
        )
        self.assertEqual(set(results["runs"]), {"l2_pca"})

    def test_bad_flag_values(self):
        recipe = load_glo_recipe()
        with self.assertRaisesRegex(ValueError, "losses"):
            recipe.run(
                flags_for(
                    recipe,
                    smoke=True,
                    output_dir=self.get_temp_dir(),
                    losses=["l3"],
                ),
                datasets_override=synthetic(),
            )

    @pytest.mark.slow
    def test_script_smoke_and_help(self):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        out = self.get_temp_dir()
        done = subprocess.run(
            [sys.executable, RECIPE, "--smoke", f"--output_dir={out}"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            cwd=ROOT,
        )
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
        self.assertEqual(results["train_size"], 256)
        helped = subprocess.run(
            [sys.executable, RECIPE, "--helpfull"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=ROOT,
        )
        for flag in (
            "--code_learning_rate",
            "--losses",
            "--strategy",
            "--tune",
        ):
            self.assertIn(flag, helped.stdout)
