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


def test_define_list_checks_choices_and_integers():
    values = flags.FlagValues()
    methods = ("dbn", "none")
    training.define_list("methods", methods, "Arms.", values, choices=methods)
    training.define_list("units", ["500"] * 2, "Sizes.", values, min_value=1)
    values(["prog"])
    assert values.methods == ["dbn", "none"] and values.units == [500, 500]
    assert "of ['dbn', 'none']" in values["methods"].help
    values(["prog", "--methods=none", "--units=16,32"])
    assert values.methods == ["none"] and values.units == [16, 32]
    values.units = [8]  # assignment is parsed and checked too
    assert values.units == [8]
    with pytest.raises(flags.IllegalFlagValueError, match="units.*0"):
        values.units = ["8", "0"]


@pytest.mark.parametrize(
    "argv, pattern",
    [
        ("--methods=dbn,rbm", "methods=dbn,rbm: expected items of.*'rbm'"),
        ("--methods=", "methods=: expected a non-empty"),
        ("--units=500,0", "units=500,0: expected integers >= 1.*: \\[0\\]"),
        ("--units=1.5", "units=1.5: expected integers"),
        ("--units=x", "units=x: expected integers"),
    ],
)
def test_define_list_rejects_bad_values_naming_the_flag(argv, pattern):
    values = flags.FlagValues()
    training.define_list("methods", ["dbn"], "", values, choices=["dbn"])
    training.define_list("units", [1], "", values, min_value=1)
    with pytest.raises(flags.IllegalFlagValueError, match=pattern):
        values(["prog", argv])


def test_define_list_ignore_case_keeps_the_given_case():
    values = flags.FlagValues()
    losses = ("lap1", "l2")
    training.define_list(
        "losses", losses, "", values, choices=losses, ignore_case=True
    )
    training.define_list("inits", ["pca"], "", values, choices=["pca"])
    values(["prog", "--losses=L2,lap1"])
    assert values.losses == ["L2", "lap1"]
    values.losses = ["LAP1"]
    with pytest.raises(flags.IllegalFlagValueError, match="losses.*'l3'"):
        values.losses = ["l3"]
    with pytest.raises(flags.IllegalFlagValueError, match="inits.*'PCA'"):
        values(["prog", "--inits=PCA"])
