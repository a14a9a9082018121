"""kdl.training.settings: frozen settings and the one --smoke dict."""

import types

import pytest
from absl import flags

from kdl import training


def _flags(**values):
    return types.SimpleNamespace(
        **{"smoke": False, "epochs": 10, "units": 100, **values}
    )


def test_smoke_overrides_apply_only_with_smoke():
    smoke = {"epochs": 1, "units": 8}
    plain = training.make_settings(_flags(), smoke)
    assert (plain.epochs, plain.units) == (10, 100)
    shrunk = training.make_settings(_flags(smoke=True), smoke)
    assert (shrunk.epochs, shrunk.units) == (1, 8)


def test_flags_are_never_mutated_and_settings_are_read_only():
    flags_obj = _flags(smoke=True)
    settings = training.make_settings(flags_obj, {"epochs": 1})
    assert flags_obj.epochs == 10
    with pytest.raises(AttributeError, match="read-only"):
        settings.epochs = 3
    assert settings.replace(epochs=4).epochs == 4
    assert settings.epochs == 1
    with pytest.raises(ValueError, match="bogus"):
        settings.replace(bogus=1)


def test_unknown_smoke_key_and_unknown_setting_fail():
    with pytest.raises(ValueError, match="epoch_count"):
        training.make_settings(_flags(), {"epoch_count": 1})
    settings = training.make_settings(_flags())
    with pytest.raises(AttributeError, match="learning_rate"):
        settings.learning_rate
    assert settings.get_or("learning_rate", 0.1) == 0.1
    assert "units" in settings and settings["units"] == 100


def test_reads_absl_flag_values_without_absl_own_flags():
    values = flags.FlagValues()
    training.define_common_flags(values, epochs=3, tune=False)
    flags.DEFINE_list("models", ["a", "b"], "", flag_values=values)
    values(["prog", "--smoke"])
    settings = training.make_settings(values, {"epochs": 1})
    assert settings.epochs == 1 and settings.models == ["a", "b"]
    assert "help" not in settings
    assert settings == training.make_settings(values, {"epochs": 1})


def test_explicit_flags_win_over_smoke():
    values = flags.FlagValues()
    training.define_common_flags(values, epochs=3, tune=False)
    flags.DEFINE_list("seeds", ["0", "1", "2"], "", flag_values=values)
    flags.DEFINE_integer("units", 100, "", flag_values=values)
    values(["prog", "--smoke", "--seeds=5"])
    values.units = 7  # set as a test harness would
    smoke = {"epochs": 1, "seeds": ["0", "1"], "units": 8}
    settings = training.make_settings(values, smoke)
    assert settings.epochs == 1  # left at its default: shrunk
    assert settings.seeds == ["5"] and settings.units == 7


def test_library_flags_of_the_global_flags_are_left_out():
    from absl import logging  # noqa: F401  (defines its flags into FLAGS)

    values = flags.FLAGS
    if "recipe_test_units" not in values:
        flags.DEFINE_integer("recipe_test_units", 3, "")
    values.mark_as_parsed()
    settings = training.make_settings(values)
    assert settings.recipe_test_units == 3
    assert "logtostderr" not in settings and "verbosity" not in settings
