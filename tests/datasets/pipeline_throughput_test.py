"""The throughput benchmark's helpers, on tiny data (the run is manual)."""

import importlib.util
import pathlib

import keras
import numpy as np

from kdl import datasets
from tests.test_case import TestCase

_PATH = (
    pathlib.Path(__file__).parents[2] / "benchmarks" / "pipeline_throughput.py"
)


def _module():
    spec = importlib.util.spec_from_file_location("pipeline_throughput", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PipelineThroughputTest(TestCase):
    def test_rates_and_table(self):
        bench = _module()
        x = np.zeros((64, 4, 4), np.uint8)
        ds = datasets.image_dataset(x, np.zeros(64), batch_size=16)
        pipe = bench.pipeline_rate(ds, seconds=0.2)
        self.assertGreater(pipe, 0)
        model = keras.Sequential(
            [
                keras.Input((4, 4, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(2),
            ]
        )
        model.compile(
            "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        rate = bench.model_rate(model, next(iter(ds)), 16, seconds=0.2)
        self.assertGreater(rate, 0)
        table = bench.markdown(
            {
                "rows": [
                    {
                        "pipeline": "p",
                        "model": "m",
                        "pipeline_examples_per_s": 600.0,
                        "model_examples_per_s": 100.0,
                        "ratio": 6.0,
                    },
                    {
                        "pipeline": "q",
                        "model": "n",
                        "pipeline_examples_per_s": 200.0,
                        "model_examples_per_s": 100.0,
                        "ratio": 2.0,
                    },
                ]
            }
        )
        self.assertIn("| p | m | 600 | 100 | 6.0x ok |", table)
        self.assertIn("2.0x MISSED", table)
