"""The recipe harness: the plumbing every recipe shares, written once.

A recipe is thin::

    SMOKE = {"epochs": 1, "units": 8}

    def define_flags(flag_values=flags.FLAGS):
        training.define_common_flags(flag_values, output_dir="out/x")
        flags.DEFINE_integer("units", 100, "...", flag_values=flag_values)

    def run(flags_obj, datasets_override=None, strategy_override=None):
        env = training.setup(flags_obj, strategy_override, SMOKE)
        cfg = env.settings                       # flags after --smoke
        if cfg.get_or("tune", False):
            return training.tune(HyperModel(...), env, x=..., epochs=...)
        row = env.cached("arm_a", lambda: train_arm_a(env))
        return env.finish({"rows": [row]}, seeds=[cfg.seed])

`setup` applies seed, precision and strategy and freezes the settings;
`RecipeSetup.cached` reuses a finished experiment arm only while its full
config is unchanged; `RecipeSetup.finish` writes `results.json` (and the
`--results_json` copy for `results/`) with provenance: command, git commit,
date, machine, versions, wall/CPU seconds, seeds. `reporting` has the
markdown tables, image grids and curves; `EpochTimer` the throughput.
"""

from kdl.training.atomic import atomic_open
from kdl.training.atomic import to_jsonable
from kdl.training.atomic import write_json
from kdl.training.atomic import write_text
from kdl.training.batch_loss import BatchLossRecorder
from kdl.training.cache import cached_run
from kdl.training.callbacks import standard_callbacks
from kdl.training.diagnostics import kernel_gradient_norms
from kdl.training.distribute import STRATEGIES
from kdl.training.distribute import get_strategy
from kdl.training.fitting import fit
from kdl.training.flags import define_common_flags
from kdl.training.flags import define_list
from kdl.training.learning_rate_halving import LearningRateHalving
from kdl.training.multi_worker import evaluate_distributed
from kdl.training.multi_worker import evaluate_model
from kdl.training.multi_worker import fit_distributed
from kdl.training.multi_worker import fit_model
from kdl.training.multi_worker import is_chief
from kdl.training.multi_worker import is_multi_worker
from kdl.training.precision import PRECISIONS
from kdl.training.precision import set_precision
from kdl.training.provenance import Clock
from kdl.training.provenance import provenance
from kdl.training.recipe import RecipeSetup
from kdl.training.recipe import setup
from kdl.training.reporting import claims_hold
from kdl.training.reporting import elementwise_holds
from kdl.training.reporting import markdown_table
from kdl.training.reporting import mean_sd
from kdl.training.reporting import ordering_holds
from kdl.training.reporting import per_seed
from kdl.training.reporting import plot_curves
from kdl.training.reporting import plot_heatmap
from kdl.training.reporting import plot_history
from kdl.training.reporting import pyplot
from kdl.training.reporting import reached_mean_sd
from kdl.training.reporting import save_filter_grid
from kdl.training.reporting import save_image_grid
from kdl.training.reporting import save_table
from kdl.training.reporting import seed_summary
from kdl.training.seed_groups import lead_verdict
from kdl.training.seed_groups import lead_verdicts
from kdl.training.seed_groups import plot_seed_points
from kdl.training.seed_groups import save_seed_table
from kdl.training.settings import Settings
from kdl.training.settings import make_settings
from kdl.training.subsample import subsample
from kdl.training.timing import EpochTimer
from kdl.training.tuner import TUNERS
from kdl.training.tuner import run_tuner
from kdl.training.tuner import tune

__all__ = [
    "BatchLossRecorder",
    "Clock",
    "EpochTimer",
    "LearningRateHalving",
    "PRECISIONS",
    "RecipeSetup",
    "STRATEGIES",
    "Settings",
    "TUNERS",
    "atomic_open",
    "cached_run",
    "claims_hold",
    "elementwise_holds",
    "define_common_flags",
    "evaluate_distributed",
    "evaluate_model",
    "fit",
    "fit_distributed",
    "fit_model",
    "define_list",
    "get_strategy",
    "is_chief",
    "is_multi_worker",
    "kernel_gradient_norms",
    "lead_verdict",
    "lead_verdicts",
    "make_settings",
    "markdown_table",
    "mean_sd",
    "ordering_holds",
    "per_seed",
    "plot_curves",
    "plot_heatmap",
    "plot_history",
    "plot_seed_points",
    "provenance",
    "pyplot",
    "reached_mean_sd",
    "run_tuner",
    "save_filter_grid",
    "save_image_grid",
    "save_seed_table",
    "save_table",
    "seed_summary",
    "set_precision",
    "setup",
    "standard_callbacks",
    "subsample",
    "to_jsonable",
    "tune",
    "write_json",
    "write_text",
]
