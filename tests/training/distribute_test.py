"""kdl.training.distribute: strategies by name."""

import keras
import numpy as np
import pytest

from kdl import training
from tests import test_case


def test_get_strategy():
    assert training.get_strategy("auto").num_replicas_in_sync == 1
    assert training.get_strategy("one_device").num_replicas_in_sync == 1
    # conftest.py makes 2 logical CPUs.
    assert training.get_strategy("mirrored").num_replicas_in_sync == 2
    with pytest.raises(ValueError, match="strategy='bogus'"):
        training.get_strategy("bogus")


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        training.get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        training.get_strategy("multi_worker")


def test_two_replica_strategy_fit():
    strategy = test_case.two_replica_strategy()
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    history = model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


MULTI_WORKER_SETUP = """
import sys, types
import tensorflow as tf
from kdl import training
flags = types.SimpleNamespace(
    output_dir=sys.argv[1], seed=0, precision="float32",
    strategy="multi_worker", smoke=False,
)
env = training.setup(flags)  # seeds and precision after the strategy
strategy = env.strategy
total = strategy.reduce(
    "SUM", strategy.run(lambda: tf.constant(1.0)), axis=None
)
print("replicas", strategy.num_replicas_in_sync, "sum", float(total))
"""


def test_multi_worker_setup_on_loopback(tmp_path):
    # Two worker processes on 127.0.0.1 build the strategy through the
    # recipe harness and all-reduce across both: the strategy is created
    # before seeding starts TF's runtime (else "Collective ops must be
    # configured at program startup").
    import json
    import os
    import socket
    import subprocess
    import sys

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        config = {
            "cluster": cluster,
            "task": {"type": "worker", "index": index},
        }
        env = dict(
            os.environ, TF_CONFIG=json.dumps(config), TF_CPP_MIN_LOG_LEVEL="2"
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", MULTI_WORKER_SETUP, str(tmp_path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        outputs = [p.communicate(timeout=90)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-3000:]
        assert "replicas 2 sum 2.0" in out, out[-3000:]
