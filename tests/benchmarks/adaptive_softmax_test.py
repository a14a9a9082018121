"""benchmarks/adaptive_softmax.py: its helpers (the benchmark itself is run
by hand, alone on the machine)."""

import importlib.util
import pathlib

import numpy as np

_PATH = pathlib.Path(__file__).parents[2] / "benchmarks" / "adaptive_softmax.py"


def _module():
    spec = importlib.util.spec_from_file_location("adaptive_softmax", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cutoffs_and_zipf_ids():
    bench = _module()
    assert bench.parse_cutoffs("10000:1000,4000;50000:2000,10000") == {
        10000: [1000, 4000],
        50000: [2000, 10000],
    }
    assert bench.parse_cutoffs(bench.DEFAULT_CUTOFFS) == {
        10000: [1000, 4000],
        50000: [2000, 10000],
    }
    ids = bench.zipf_ids(100, 20000, 1.0, np.random.default_rng(0))
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < 100
    counts = np.bincount(ids, minlength=100)
    # p(k) ~ 1/(k+1): rank 0 is about twice as frequent as rank 1.
    assert 1.7 < counts[0] / counts[1] < 2.3
    assert counts[:10].sum() > counts[10:].sum() * 0.9
