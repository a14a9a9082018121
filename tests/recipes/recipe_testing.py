"""Helpers for recipe tests: flags objects and subprocess runs."""

import os
import subprocess
import sys
import types

from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def recipe_path(name):
    return os.path.join(ROOT, "recipes", f"{name}.py")


class _FlagsShim:
    """`absl.flags` whose DEFINE_* functions write into one `FlagValues`."""

    def __init__(self, values):
        self.FLAGS = values
        self._values = values

    def __getattr__(self, name):
        attr = getattr(flags, name)
        if name.startswith("DEFINE") or name.startswith("declare_key"):

            def bound(*args, **kwargs):
                kwargs.setdefault("flag_values", self._values)
                return attr(*args, **kwargs)

            return bound
        return attr


def flags_for(module, **overrides):
    """A flags object with the recipe's own defaults and `overrides`.

    The recipe's `define_flags()` runs against a fresh `absl.flags.FlagValues`
    (its module's `flags` and `FLAGS`, and the common flags, are pointed
    there for the call), so recipes that share flag names with different
    defaults never see each other's definitions in one test process. The
    global FLAGS are not parsed or mutated. Returns a `SimpleNamespace`.
    """
    from unittest import mock

    fresh = flags.FlagValues()
    with (
        mock.patch.object(module, "flags", _FlagsShim(fresh)),
        mock.patch.object(module, "FLAGS", fresh),
        mock.patch.object(flags, "FLAGS", fresh),
    ):
        module.define_flags()
    values = {name: fresh[name].default for name in fresh}
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
