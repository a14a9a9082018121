"""Helpers for recipe tests: flags objects and subprocess runs."""

import os
import subprocess
import sys
import types

from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def recipe_path(name):
    return os.path.join(ROOT, "recipes", f"{name}.py")


def flags_for(module, **overrides):
    """A flags object with the recipe's defaults and `overrides`.

    Calls `module.define_flags()` (idempotent), reads each flag's default
    and returns a `SimpleNamespace`: the global FLAGS are not parsed or
    mutated.
    """
    module.define_flags()
    values = {name: flags.FLAGS[name].default for name in flags.FLAGS}
    unknown = set(overrides) - set(values)
    if unknown:
        raise KeyError(f"unknown flags {sorted(unknown)}")
    values.update(overrides)
    return types.SimpleNamespace(**values)


def run_recipe(name, *args, timeout=300, **popen_kwargs):
    """Runs `python recipes/<name>.py args...`; returns CompletedProcess."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, recipe_path(name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        **popen_kwargs,
    )


def load_recipe(name):
    """Imports recipes/<name>.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"recipe_{name}", recipe_path(name)
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
