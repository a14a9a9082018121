"""The absl flags every recipe shares."""

import sys

from absl import flags

from kdl.training.distribute import STRATEGIES
from kdl.training.precision import PRECISIONS
from kdl.training.tuner import TUNERS

TUNE_FLAGS = ("tune", "tuner", "max_trials")


def define_common_flags(
    flag_values=None,
    *,
    output_dir="out/recipe",
    epochs=10,
    batch_size=32,
    seed=0,
    tune=True,
    max_trials=10,
):
    """Defines the flags shared by all recipes, with the recipe's defaults.

    Flags: `--output_dir`, `--results_json`, `--epochs`, `--batch_size`,
    `--seed`, `--strategy`, `--tpu`, `--precision`, `--smoke`, and, when
    `tune` is true (the recipe has a KerasTuner HyperModel), `--tune`,
    `--tuner`, `--max_trials`. A recipe that cannot honour a flag does not
    define it. Enumerated flags reject other values with an error listing
    the allowed ones; numeric flags have lower bounds.

    Args:
        flag_values: the `absl.flags.FlagValues` to define into (default
            `absl.flags.FLAGS`). Tests pass a fresh `FlagValues`.
        output_dir, epochs, batch_size, seed, max_trials: the recipe's
            defaults.
        tune: whether to define the tuning flags.

    Returns:
        The names defined.
    """
    fv = flags.FLAGS if flag_values is None else flag_values
    names = []

    def define(kind, name, default, help_text, **kwargs):
        getattr(flags, f"DEFINE_{kind}")(
            name=name,
            default=default,
            help=help_text,
            flag_values=fv,
            **kwargs,
        )
        names.append(name)

    define(
        "string",
        "output_dir",
        output_dir,
        "Folder for results JSON, plots, checkpoints and logs.",
    )
    define(
        "string",
        "results_json",
        "",
        "Also write the run's results JSON (with provenance) to this path, "
        "e.g. results/<recipe>.json for the README tables.",
    )
    define("integer", "epochs", epochs, "Training epochs.", lower_bound=1)
    define(
        "integer",
        "batch_size",
        batch_size,
        "Global batch size.",
        lower_bound=1,
    )
    define("integer", "seed", seed, "Random seed.", lower_bound=0)
    define(
        "enum",
        "strategy",
        "auto",
        "tf.distribute strategy. `multi_worker` reads TF_CONFIG; `tpu` uses "
        "--tpu with the TPU cluster resolver.",
        enum_values=list(STRATEGIES),
    )
    define(
        "string", "tpu", "", "TPU name or address for --strategy=tpu."
    )
    define(
        "enum",
        "precision",
        "float32",
        "Keras dtype policy.",
        enum_values=list(PRECISIONS),
    )
    define(
        "bool",
        "smoke",
        False,
        "Shrink data, model and epochs so the recipe runs in seconds.",
    )
    if tune:
        define(
            "bool", "tune", False, "Run the recipe's KerasTuner HyperModel."
        )
        define(
            "enum",
            "tuner",
            "random",
            "KerasTuner search algorithm.",
            enum_values=list(TUNERS),
        )
        define(
            "integer",
            "max_trials",
            max_trials,
            "Tuner trials.",
            lower_bound=1,
        )
    # Show the common flags in the recipe's own `--help` (absl lists only
    # the main module's key flags there).
    main = sys.argv[0] if sys.argv and sys.argv[0] else None
    if main and fv is flags.FLAGS:
        for name in names:
            fv.register_key_flag_for_module(main, fv[name])
    return tuple(names)
