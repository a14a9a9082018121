"""The absl flags every recipe shares."""

import sys

from absl import flags

from kdl.training.distribute import STRATEGIES
from kdl.training.precision import PRECISIONS
from kdl.training.tuner import TUNERS

COMMON_FLAGS = (
    "output_dir",
    "epochs",
    "batch_size",
    "seed",
    "strategy",
    "tpu",
    "precision",
    "smoke",
    "tune",
    "tuner",
    "max_trials",
)


def define_common_flags(
    output_dir="out/recipe",
    epochs=10,
    batch_size=32,
    seed=0,
    max_trials=10,
    flag_values=None,
):
    """Defines the flags shared by all recipes, with recipe defaults.

    Flags: `--output_dir`, `--epochs`, `--batch_size`, `--seed`,
    `--strategy`, `--tpu`, `--precision`, `--smoke`, `--tune`, `--tuner`,
    `--max_trials`. Enumerated flags reject other values with an error that
    lists the allowed ones; numeric flags have lower bounds.

    Calling it twice (e.g. from tests that import several recipes) is
    harmless: flags already defined are left as they are. `flag_values`
    defaults to `absl.flags.FLAGS`.
    """
    fv = flags.FLAGS if flag_values is None else flag_values
    if "output_dir" in fv:
        return
    flags.DEFINE_string(
        "output_dir",
        output_dir,
        "Folder for results JSON, plots, checkpoints and logs.",
        flag_values=fv,
    )
    flags.DEFINE_integer(
        "epochs", epochs, "Training epochs.", lower_bound=1, flag_values=fv
    )
    flags.DEFINE_integer(
        "batch_size",
        batch_size,
        "Global batch size.",
        lower_bound=1,
        flag_values=fv,
    )
    flags.DEFINE_integer(
        "seed", seed, "Random seed.", lower_bound=0, flag_values=fv
    )
    flags.DEFINE_enum(
        "strategy",
        "auto",
        STRATEGIES,
        "tf.distribute strategy. `multi_worker` reads TF_CONFIG; `tpu` uses "
        "--tpu with the TPU cluster resolver.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "tpu",
        "",
        "TPU name or address for --strategy=tpu ('' = local).",
        flag_values=fv,
    )
    flags.DEFINE_enum(
        "precision",
        "float32",
        PRECISIONS,
        "Keras dtype policy.",
        flag_values=fv,
    )
    flags.DEFINE_bool(
        "smoke",
        False,
        "Shrink data, model and epochs so the recipe runs in seconds.",
        flag_values=fv,
    )
    flags.DEFINE_bool(
        "tune",
        False,
        "Run the recipe's KerasTuner HyperModel instead.",
        flag_values=fv,
    )
    flags.DEFINE_enum(
        "tuner",
        "random",
        TUNERS,
        "KerasTuner search algorithm.",
        flag_values=fv,
    )
    flags.DEFINE_integer(
        "max_trials",
        max_trials,
        "Tuner trials.",
        lower_bound=1,
        flag_values=fv,
    )
    # Show the common flags in the recipe's own `--help` (absl lists only
    # the main module's key flags there).
    main = sys.argv[0] if sys.argv and sys.argv[0] else None
    if main:
        for name in COMMON_FLAGS:
            fv.register_key_flag_for_module(main, fv[name])
