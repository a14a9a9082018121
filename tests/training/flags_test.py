"""kdl.training.flags: the common flags, defined into any FlagValues."""

import pytest
from absl import flags

from kdl import training


def _flag_values(**defaults):
    values = flags.FlagValues()
    training.define_common_flags(values, **defaults)
    return values


def test_defaults_and_parse():
    values = _flag_values(output_dir="out/x", epochs=3)
    values(["prog", "--epochs=5", "--precision=mixed_bfloat16"])
    assert values.epochs == 5
    assert values.precision == "mixed_bfloat16"
    assert values.strategy == "auto"
    assert values.output_dir == "out/x"
    assert values.batch_size == 32
    assert values.results_json == ""
    assert values.tune is False and values.max_trials == 10


def test_recipe_without_hypermodel_has_no_tune_flags():
    names = training.define_common_flags(flags.FlagValues(), tune=False)
    assert "tune" not in names and "tuner" not in names
    assert "max_trials" not in names and "epochs" in names


def test_defining_twice_into_one_flag_values_is_an_error():
    values = _flag_values()
    with pytest.raises(flags.DuplicateFlagError):
        training.define_common_flags(values)


@pytest.mark.parametrize(
    "argv, pattern",
    [
        ("--strategy=gpu_cluster", "strategy.*auto\\|one_device\\|mirrored"),
        ("--precision=float8", "precision.*float32\\|mixed_float16"),
        ("--tuner=grid", "tuner.*random\\|hyperband\\|bayesian"),
        ("--epochs=0", "epochs"),
        ("--batch_size=-1", "batch_size"),
    ],
)
def test_bad_flags_name_the_flag_and_allowed_values(argv, pattern):
    values = _flag_values()
    with pytest.raises(flags.IllegalFlagValueError, match=pattern):
        values(["prog", argv])
