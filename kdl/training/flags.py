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
    define("string", "tpu", "", "TPU name or address for --strategy=tpu.")
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
        define("bool", "tune", False, "Run the recipe's KerasTuner HyperModel.")
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
    _show_in_main_help(fv, names)
    return tuple(names)


def _show_in_main_help(fv, names):
    # Show flags defined here in the recipe's own `--help` (absl lists only
    # the main module's key flags there).
    main = sys.argv[0] if sys.argv and sys.argv[0] else None
    if main and fv is flags.FLAGS:
        for name in names:
            fv.register_key_flag_for_module(main, fv[name])


def _integer(item):
    """`item` as an int when it is one (or its text), else None."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item
    text = str(item).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _list_problem(items, choices, min_value, ignore_case=False):
    """What is wrong with a list flag's value, or None."""
    if not items:
        return "expected a non-empty comma-separated list"
    if choices is not None:
        if ignore_case:
            known = {str(c).lower() for c in choices}
            unknown = [s for s in items if str(s).lower() not in known]
        else:
            unknown = [s for s in items if s not in choices]
        if unknown:
            return f"expected items of {list(choices)}; unknown: {unknown}"
    if min_value is not None:
        bad = [s for s in items if not isinstance(s, int) or s < min_value]
        if bad:
            return f"expected integers >= {min_value}; received: {bad}"
    return None


class _CheckedListParser(flags.ListParser):
    """A comma-separated list, non-empty, of `choices` or of ints."""

    def __init__(self, choices, min_value, ignore_case=False):
        super().__init__()
        self.choices = choices
        self.min_value = min_value
        self.ignore_case = ignore_case

    def parse(self, argument):
        items = super().parse(argument)
        if self.min_value is not None:
            items = [s if _integer(s) is None else _integer(s) for s in items]
        problem = _list_problem(
            items, self.choices, self.min_value, self.ignore_case
        )
        if problem:
            raise ValueError(problem)
        return items


def define_list(
    name,
    default,
    help_text,
    flag_values=None,
    *,
    choices=None,
    min_value=None,
    ignore_case=False,
):
    """Defines a comma-separated list flag that is checked when parsed.

    The list must be non-empty; with `choices` every item must be one of
    them (e.g. the arms to run); with `min_value` every item must be an
    integer >= `min_value`, and the flag's value is a list of ints (e.g.
    layer sizes). A bad value fails when parsed, or when assigned (a test
    setting the flag), with an error naming the flag, the bad items and
    what is allowed.

    Args:
        name: the flag name.
        default: a list (or a comma-separated string).
        help_text: the help; the choices are appended to it.
        flag_values: the `absl.flags.FlagValues` (default `absl.flags.FLAGS`).
        choices: the allowed items, or None.
        min_value: None (strings), or the smallest allowed integer.
        ignore_case: with `choices`, accept items in any case (e.g. "L2"
            for "l2"); the value keeps the case given.

    Returns:
        The flag holder.
    """
    fv = flags.FLAGS if flag_values is None else flag_values
    choices = None if choices is None else tuple(choices)
    if choices is not None:
        help_text = f"{help_text} Comma-separated, of {list(choices)}."

    def check(items):  # also runs when a test assigns the flag
        problem = _list_problem(items, choices, min_value, ignore_case)
        if problem:
            raise flags.ValidationError(f"--{name}: {problem}")
        return True

    holder = flags.DEFINE(
        _CheckedListParser(choices, min_value, ignore_case),
        name,
        list(default) if isinstance(default, tuple) else default,
        help_text,
        fv,
        flags.CsvListSerializer(","),
    )
    flags.register_validator(name, check, flag_values=fv)
    _show_in_main_help(fv, [name])
    return holder
