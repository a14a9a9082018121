"""Strategies shared by the fuzz tests, and the record of what is fuzzed.

Examples are small on purpose (a few rows, steps, features): the suite
runs every layer eagerly on each example. A drawn `seed` feeds NumPy for
the array values, so Hypothesis draws shapes and regimes (scale, dtype,
mask pattern) and NumPy fills them in.
"""

import keras
import numpy as np
from hypothesis import strategies as st

# Every public name with a fuzz test; `coverage_test.py` checks it against
# the `__all__` of kdl.layers, kdl.losses and kdl.ops.
FUZZED = set()


def fuzzes(*names):
    """Marks a test as the fuzz case of the public `names`."""
    FUZZED.update(names)

    def mark(fn):
        return fn

    return mark


seeds = st.integers(0, 2**31 - 1)
# Tiny, ordinary and extreme magnitudes (extreme for half precision too).
scales = st.sampled_from([1e-4, 1.0, 30.0, 1e3])
# Dtype policies: the reference comparisons run at float32 and float64,
# the others check finiteness and the output dtype.
policies = st.sampled_from(
    ["float32", "float64", "mixed_float16", "mixed_bfloat16"]
)
batches = st.integers(1, 4)
steps = st.integers(1, 4)
features = st.integers(1, 4)


def normal(seed, shape, scale=1.0, dtype="float32"):
    rng = np.random.RandomState(seed)
    return (rng.normal(size=shape) * scale).astype(dtype)


@st.composite
def masks(draw, shape):
    """Boolean masks: all True, random, or with fully masked rows (axis 0)."""
    kind = draw(st.sampled_from(["all", "random", "rows_off", "none_on"]))
    rng = np.random.RandomState(draw(seeds))
    if kind == "all":
        return np.ones(shape, bool)
    if kind == "none_on":
        return np.zeros(shape, bool)
    mask = rng.rand(*shape) < 0.6
    if kind == "rows_off":
        mask[rng.rand(shape[0]) < 0.5] = False
        mask[0] = False  # at least one fully masked row
    return mask


def tolerance(policy, scale=1.0):
    """atol for a reference comparison of values of about `scale`."""
    base = {"float64": 1e-9, "float32": 1e-4}.get(policy, 5e-2)
    return base * max(scale, 1.0)


def compute_dtype(policy):
    return {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}.get(
        policy, policy
    )


def input_dtype(policy):
    return "float64" if policy == "float64" else "float32"


def as_numpy(x):
    """Any tensor (bfloat16 included) as a float64 NumPy array."""
    return keras.ops.convert_to_numpy(keras.ops.cast(x, "float64"))


def assert_finite(testcase, *tensors):
    for t in tensors:
        values = as_numpy(t)
        testcase.assertTrue(
            np.isfinite(values).all(), f"non-finite values: {values}"
        )
