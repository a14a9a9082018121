"""Argument checks shared by every kdl component (private).

One meaning everywhere, so that a bad argument fails the same way in every
class:

* An **integer** is a Python `int` or a NumPy integer (`np.int64(3)`).
  `bool` is rejected (`True` is not a count), and so is every float, even
  an integral one such as `4.0`, as Keras's own `standardize_tuple` does:
  a float where a count is expected is almost always a bug (a
  `hp.Float`, a division), and accepting `4.0` but not `4.5` would make
  the error depend on the value instead of the type. Strings are rejected.
  The checks return a Python `int` (so `get_config` stays JSON-friendly).
* A **float** (a real number) is an `int`, `float` or NumPy number, never
  `bool` or a string; it must be finite (no NaN, no infinity). The checks
  return a Python `float`. Ranges are closed unless said otherwise.
* A **choice** (`one_of`) is compared with `==` against a fixed tuple of
  options; strings are matched exactly unless `lower=True`.
* A **boolean** is a Python or NumPy `bool` only (`1` is not `True`).

Every failure raises `ValueError` naming the argument and the value
received, in Keras's form:

    `units` must be a positive integer. Received: units=2.5

`allow_none=True` lets `None` through unchanged (an optional argument).
"""

import math
import numbers

import numpy as np


def _received(name, value):
    shown = repr(value) if isinstance(value, str) else value
    return f"Received: {name}={shown}"


def _fail(name, value, what):
    raise ValueError(f"`{name}` must be {what}. {_received(name, value)}")


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not _is_bool(value)


def _is_real(value):
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _fmt(bound):
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _range_text(
    kind, min_value, max_value, min_inclusive=True, max_inclusive=True
):
    """`a positive integer`, `a float in [0, 1)`, `an integer >= 2`, ..."""
    article = "an" if kind[0] in "aeiou" else "a"
    if max_value is None and min_inclusive:
        if kind == "integer" and min_value == 1:
            return "a positive integer"
        if min_value == 0:
            return f"a non-negative {kind}"
    if max_value is None and not min_inclusive and min_value == 0:
        return f"a positive {kind}"
    if min_value is None and max_value is None:
        return f"{article} {kind}"
    if max_value is None:
        op = ">=" if min_inclusive else ">"
        return f"{article} {kind} {op} {_fmt(min_value)}"
    if min_value is None:
        op = "<=" if max_inclusive else "<"
        return f"{article} {kind} {op} {_fmt(max_value)}"
    left = "[" if min_inclusive else "("
    right = "]" if max_inclusive else ")"
    return (
        f"{article} {kind} in {left}{_fmt(min_value)}, {_fmt(max_value)}{right}"
    )


def _in_range(value, min_value, max_value, min_inclusive, max_inclusive):
    if min_value is not None:
        if value < min_value or (not min_inclusive and value == min_value):
            return False
    if max_value is not None:
        if value > max_value or (not max_inclusive and value == max_value):
            return False
    return True


def integer(name, value, min_value=None, max_value=None, allow_none=False):
    """An integer in `[min_value, max_value]` (either bound optional).

    Returns:
        `value` as a Python `int` (or None when `allow_none` and None).
    """
    if value is None and allow_none:
        return None
    what = _range_text("integer", min_value, max_value)
    if not _is_int(value):
        _fail(name, value, what)
    if not _in_range(value, min_value, max_value, True, True):
        _fail(name, value, what)
    return int(value)


def positive_integer(name, value, allow_none=False):
    """An integer >= 1: `` `units` must be a positive integer. ...``"""
    return integer(name, value, min_value=1, allow_none=allow_none)


def non_negative_integer(name, value, allow_none=False):
    """An integer >= 0."""
    return integer(name, value, min_value=0, allow_none=allow_none)


def number(
    name,
    value,
    min_value=None,
    max_value=None,
    min_inclusive=True,
    max_inclusive=True,
    allow_none=False,
):
    """A finite real number in a range (bounds optional, closed by default).

    Returns:
        `value` as a Python `float` (or None when `allow_none` and None).
    """
    if value is None and allow_none:
        return None
    what = _range_text(
        "float", min_value, max_value, min_inclusive, max_inclusive
    )
    if not _is_real(value):
        _fail(name, value, what)
    if not math.isfinite(value):
        _fail(name, value, f"{what}, and finite")
    if not _in_range(value, min_value, max_value, min_inclusive, max_inclusive):
        _fail(name, value, what)
    return float(value)


def positive_number(name, value, allow_none=False):
    """A finite float > 0 (e.g. a learning rate or a temperature)."""
    return number(
        name, value, min_value=0, min_inclusive=False, allow_none=allow_none
    )


def non_negative_number(name, value, allow_none=False):
    """A finite float >= 0 (e.g. a weight or an epsilon)."""
    return number(name, value, min_value=0, allow_none=allow_none)


def rate(name, value, allow_none=False):
    """A probability that must leave something: a float in [0, 1)."""
    return number(name, value, 0, 1, max_inclusive=False, allow_none=allow_none)


def one_of(name, value, options, lower=False, allow_none=False):
    """One of a fixed set of `options` (strings, None, numbers...).

    Args:
        lower: compare strings lower-cased (`"SAME"` -> `"same"`); the
            returned value is then the lower-cased string.

    Returns:
        The matching option (so `lower=True` returns the lower-cased form).
    """
    if value is None and allow_none:
        return None
    options = tuple(options)
    candidate = value.lower() if lower and isinstance(value, str) else value
    for option in options:
        same_kind = _is_bool(option) == _is_bool(candidate) and isinstance(
            option, str
        ) == isinstance(candidate, str)
        if same_kind and option == candidate:
            return option
    _fail(name, value, f"one of {list(options)}")


def boolean(name, value):
    """A Python or NumPy `bool` (not `0`/`1`, not a string); returns `bool`."""
    if not _is_bool(value):
        _fail(name, value, "a boolean (True or False)")
    return bool(value)


def integer_tuple(name, value, length, min_value=1):
    """An integer, repeated `length` times, or `length` integers.

    For pool sizes and strides: `2` -> `(2, 2)`, `(3, 2)` -> `(3, 2)`;
    every entry must be an integer >= `min_value`.

    Returns:
        A tuple of `length` Python ints.
    """
    what = (
        f"{_range_text('integer', min_value, None)} or a tuple of "
        f"{length} such integers"
    )
    if _is_int(value):
        value_tuple = (value,) * length
    elif isinstance(value, (tuple, list)):
        value_tuple = tuple(value)
    else:
        _fail(name, value, what)
    if len(value_tuple) != length or not all(
        _is_int(v) and (min_value is None or v >= min_value)
        for v in value_tuple
    ):
        _fail(name, value, what)
    return tuple(int(v) for v in value_tuple)


def integer_list(
    name,
    value,
    min_value=1,
    allow_empty=False,
    max_value=None,
    increasing=False,
):
    """A list or tuple of integers in `[min_value, max_value]` (layer sizes,
    cutoffs...); `increasing=True` also requires them strictly increasing.

    Returns:
        A list of Python ints.
    """
    each = _range_text("integer", min_value, max_value).split(" ", 1)[1]
    each = each.replace("integer", "integers", 1)
    order = "strictly increasing " if increasing else ""
    what = f"a {'' if allow_empty else 'non-empty '}{order}list of {each}"
    if not isinstance(value, (tuple, list)):
        _fail(name, value, what)
    if not value and not allow_empty:
        _fail(name, value, what)
    if not all(
        _is_int(v) and _in_range(v, min_value, max_value, True, True)
        for v in value
    ):
        _fail(name, value, what)
    if increasing and any(a >= b for a, b in zip(value, value[1:])):
        _fail(name, value, what)
    return [int(v) for v in value]


def number_tuple(name, value, length, min_value=None):
    """A float, repeated `length` times, or `length` floats >= `min_value`.

    Returns:
        A tuple of `length` Python floats.
    """
    each = _range_text("float", min_value, None)
    what = f"{each} or a tuple of {length} such floats"
    if _is_real(value):
        value_tuple = (value,) * length
    elif isinstance(value, (tuple, list)):
        value_tuple = tuple(value)
    else:
        _fail(name, value, what)
    if len(value_tuple) != length or not all(
        _is_real(v)
        and math.isfinite(v)
        and (min_value is None or v >= min_value)
        for v in value_tuple
    ):
        _fail(name, value, what)
    return tuple(float(v) for v in value_tuple)
