"""benchmarks/pipeline_throughput.py: its runners on tiny data (the
benchmark itself is run by hand)."""

import importlib.util
import pathlib

import keras
import numpy as np

from benchmarks import common
from kdl import datasets

_PATH = (
    pathlib.Path(__file__).parents[2] / "benchmarks" / "pipeline_throughput.py"
)


def _module():
    spec = importlib.util.spec_from_file_location("pipeline_throughput", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runners_count_examples_and_give_per_repeat_rates():
    bench = _module()
    x = np.zeros((40, 4, 4), np.uint8)
    ds = datasets.image_dataset(x, np.zeros(40), batch_size=16)
    assert bench.batch_size_of(next(iter(ds))) == 16
    pull, pulled = bench.pipeline_runner(ds, steps=3)
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    model.compile(
        "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    resets = []
    train = bench.model_runner(
        model, next(iter(ds)), steps=2, reset=lambda: resets.append(1)
    )
    assert int(model.optimizer.iterations) == 3  # the warm-up steps
    times = common.interleaved({"pipeline": pull, "model": train}, repeats=2)
    # Epochs of 40 images are batches 16, 16, 8; the warm-up took a 16,
    # then each call pulls 16, 8, 16.
    assert pulled == [40, 40]
    assert int(model.optimizer.iterations) == 3 + 2 * 2
    assert len(resets) == 2  # once per timed call
    assert all(t > 0 for v in times.values() for t in v)
