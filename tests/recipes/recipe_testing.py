"""Helpers for recipe tests: fresh flags, subprocess runs, module loading."""

import contextlib
import importlib.util
import os
import subprocess
import sys
from unittest import mock

import keras
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def recipe_path(name):
    return os.path.join(ROOT, "recipes", f"{name}.py")


def load_recipe(name):
    """Imports recipes/<name>.py as a module (its flags are not defined)."""
    spec = importlib.util.spec_from_file_location(
        f"recipe_{name}", recipe_path(name)
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flags_for(module, **overrides):
    """A fresh, parsed `FlagValues` with the recipe's defaults + `overrides`.

    The recipe's `define_flags(flag_values)` defines into a new
    `absl.flags.FlagValues`, so recipes that share flag names with different
    defaults never meet in one test process, and the global FLAGS are never
    touched. An override naming a flag the recipe does not define fails.
    """
    values = flags.FlagValues()
    module.define_flags(values)
    values(["recipe"])
    for name, value in overrides.items():
        if name not in values:
            raise KeyError(
                f"{module.__name__} defines no flag {name!r}. "
                f"Its flags: {sorted(values)}"
            )
        setattr(values, name, value)
    return values


def command_line(smoke=True, **overrides):
    """The command-line flags that set `overrides` (as `flags_for` sets
    them): `--name=value`, a list as its comma-separated items, a bool as
    `--name` / `--noname`; `--smoke` first unless `smoke=False`."""
    args = ["--smoke"] if smoke else []
    for name, value in overrides.items():
        if isinstance(value, bool):
            args.append(f"--{'' if value else 'no'}{name}")
        elif isinstance(value, (list, tuple)):
            args.append(f"--{name}={','.join(str(v) for v in value)}")
        else:
            args.append(f"--{name}={value}")
    return args


def help_text(name):
    """The recipe's flag help (`--helpfull` minus absl's own), in-process.

    Built from the recipe's `define_flags` into a fresh `FlagValues`, the
    same definitions its command line parses, without the 5 s of a new
    Python + TensorFlow process per recipe.
    """
    values = flags.FlagValues()
    load_recipe(name).define_flags(values)
    # Booleans are listed as `--[no]name`: name them as they are typed.
    return values.get_help().replace("--[no]", "--")


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


@contextlib.contextmanager
def no_training():
    """Fails the test if code inside trains a Keras model: `keras.Model.fit`
    (which subclasses that override it, e.g. `kdl.models.NAT`, end in)
    raises. For the second run of a recipe, which must reuse every
    finished arm."""
    refuse = AssertionError("a run that reuses its arms trained a model")
    with mock.patch.object(keras.Model, "fit", side_effect=refuse):
        yield
