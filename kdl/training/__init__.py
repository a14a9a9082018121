"""The recipe harness: common flags, strategy, precision, callbacks, results.

A recipe is thin: `define_flags()` calls `define_common_flags(...)` and adds
its own flags; `run(flags_obj)` calls `setup(flags_obj)` to get the
distribution strategy (precision and seeds applied, output folder made),
builds data and model, fits with `standard_callbacks(...)`, and reports with
`write_results(...)` / `plot_history(...)`. `--tune` goes through
`run_tuner(...)` with the recipe's `keras_tuner.HyperModel`.
"""

from kdl.training.callbacks import standard_callbacks
from kdl.training.diagnostics import kernel_gradient_norms
from kdl.training.distribute import STRATEGIES
from kdl.training.distribute import get_strategy
from kdl.training.flags import define_common_flags
from kdl.training.precision import PRECISIONS
from kdl.training.precision import set_precision
from kdl.training.recipe import RecipeSetup
from kdl.training.recipe import setup
from kdl.training.results import plot_curves
from kdl.training.results import plot_history
from kdl.training.results import pyplot
from kdl.training.results import write_results
from kdl.training.tuner import TUNERS
from kdl.training.tuner import run_tuner

__all__ = [
    "PRECISIONS",
    "RecipeSetup",
    "STRATEGIES",
    "TUNERS",
    "define_common_flags",
    "get_strategy",
    "kernel_gradient_norms",
    "plot_curves",
    "plot_history",
    "pyplot",
    "run_tuner",
    "set_precision",
    "setup",
    "standard_callbacks",
    "write_results",
]
