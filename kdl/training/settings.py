"""An immutable view of a recipe's flags, with its `--smoke` overrides."""

import types


class Settings:
    """The values of a recipe's flags after `--smoke`, read-only.

    Recipes read their sizes from here instead of the flags, so the smoke
    shrinking is one declared dict per recipe and the flags are never
    mutated. Attribute and item access; `replace(**changes)` returns a new
    object; `to_dict()` a plain copy.

    Args:
        values: a mapping of flag names to values.
    """

    __slots__ = ("_values",)

    def __init__(self, values):
        frozen = types.MappingProxyType(dict(values))
        object.__setattr__(self, "_values", frozen)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"No setting named {name!r}. Known: {sorted(self._values)}"
            ) from None

    def __getitem__(self, name):
        return self._values[name]

    def __contains__(self, name):
        return name in self._values

    def __setattr__(self, name, value):
        raise AttributeError(f"Settings are read-only (tried to set {name!r})")

    def __eq__(self, other):
        return isinstance(other, Settings) and self.to_dict() == other.to_dict()

    def __hash__(self):
        items = self._values.items()
        return hash(tuple(sorted((k, repr(v)) for k, v in items)))

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self._values.items()))
        return f"Settings({inner})"

    def replace(self, **changes):
        """A copy with `changes` applied; every name must already exist."""
        unknown = sorted(set(changes) - set(self._values))
        if unknown:
            raise ValueError(
                f"Unknown settings {unknown}. Known: {sorted(self._values)}"
            )
        return Settings({**self._values, **changes})

    def to_dict(self):
        return dict(self._values)

    def get_or(self, name, default):
        """The setting `name`, or `default` when the recipe has no such flag."""
        return self._values.get(name, default)


# Flags that libraries define into the global FLAGS (absl logging, TF/Keras
# test helpers); they say nothing about a recipe's experiment.
_LIBRARY_PREFIXES = ("absl", "tensorflow", "keras", "tf_keras", "jax")


def _library_flag(flags_obj, name):
    module = flags_obj.find_module_defining_flag(name, default="")
    return module.split(".")[0] in _LIBRARY_PREFIXES


def flag_dict(flags_obj):
    """The recipe's flag values of `flags_obj` (absl `FlagValues` or a
    namespace), without the flags absl, TF or Keras define for themselves."""
    if hasattr(flags_obj, "flag_values_dict"):
        values = {
            name: value
            for name, value in flags_obj.flag_values_dict().items()
            if not _library_flag(flags_obj, name)
        }
    else:
        values = dict(vars(flags_obj))
    for name in ("help", "helpfull", "helpshort", "helpxml", "flagfile"):
        values.pop(name, None)
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in values.items()
    }


def make_settings(flags_obj, smoke_overrides=None):
    """Builds `Settings` from the flags, applying `smoke_overrides` on --smoke.

    Args:
        flags_obj: parsed absl flags or any object with flag attributes.
            Never mutated.
        smoke_overrides: the recipe's one dict of `--smoke` values. Every key
            must be a flag of the recipe (a typo fails loudly). A flag given
            explicitly keeps its given value: `--smoke` shrinks what the
            command line leaves at its default.
    """
    values = flag_dict(flags_obj)
    smoke_overrides = dict(smoke_overrides or {})
    unknown = sorted(set(smoke_overrides) - set(values))
    if unknown:
        raise ValueError(
            f"smoke_overrides name flags the recipe does not define: {unknown}"
        )
    if values.get("smoke"):
        values.update(
            (name, value)
            for name, value in smoke_overrides.items()
            if not _given(flags_obj, name)
        )
    return Settings(values)


def _given(flags_obj, name):
    """Whether flag `name` was set explicitly (on the command line or by
    assignment), so that `--smoke` leaves it alone: `--smoke --seeds=0`
    runs seed 0. A namespace without absl flags says nothing: False."""
    if not hasattr(flags_obj, "flag_values_dict"):
        return False
    return not flags_obj[name].using_default_value
