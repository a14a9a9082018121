"""kdl.training.fit_distributed and multi-worker `fit` on loopback.

The loopback tests start 2 worker processes on 127.0.0.1 (free ports,
`TF_CONFIG`: `tests/training/loopback.py`) running
`tests/training/loopback_worker.py` with the same output folder (as on a
shared file system); every process is bounded by a timeout and killed if
it outlives it. The workers are forks of one process that imported
TensorFlow for the tests of this file (`loopback.ForkServer`): a worker
costs ~1 s of CPU instead of ~8.
"""

import json
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdl import training
from tests import test_case
from tests.training import loopback
from tests.training import loopback_worker


def _one_process_reference(shuffle=False):
    model = loopback_worker.make_model()
    history = model.fit(
        loopback_worker.make_dataset(shuffle),
        epochs=loopback_worker.EPOCHS,
        validation_data=loopback_worker.make_dataset().take(2),
        verbose=0,
    )
    history.history["evaluate"] = model.evaluate(
        loopback_worker.make_dataset(), verbose=0, return_dict=True
    )
    return model.get_weights(), history.history


@pytest.fixture(scope="module")
def server():
    with loopback.ForkServer() as server:
        yield server


def _start_workers(server, output_dir, tmp_dir, *args):
    command = ["-m", "tests.training.loopback_worker", str(output_dir), *args]
    return loopback.start_workers(command, tmp_dir, server=server)


def _result(output):
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, output[-3000:]
    return json.loads(lines[0][len("RESULT ") :])


def _assert_weights_close(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.array(a), e, atol=1e-5, rtol=0)


def _history_rows(output_dir):
    text = (output_dir / "history.csv").read_text().strip()
    return text.splitlines()[1:]


def test_two_workers_train_like_one_process(server, tmp_path):
    shared, tmp = tmp_path / "shared", tmp_path / "tmp"
    tmp.mkdir()
    procs = _start_workers(server, shared, tmp)
    outputs = loopback.finish(procs)
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-3000:]
    results = [_result(out) for out in outputs]
    assert [r["chief"] for r in results] == [True, False]
    assert {r["replicas"] for r in results} == {2}
    weights, history = _one_process_reference()
    for result in results:
        _assert_weights_close(result["weights"], weights)
        for key in ("loss", "val_loss"):
            np.testing.assert_allclose(result[key], history[key], atol=1e-5)
        assert result["evaluate"].keys() == history["evaluate"].keys()
        np.testing.assert_allclose(
            result["evaluate"]["loss"], history["evaluate"]["loss"], atol=1e-5
        )
    # The chief alone wrote the shared log (two writers would double the
    # rows); the other worker's temporary folder is gone; the backup was
    # deleted at the end.
    assert len(_history_rows(shared)) == loopback_worker.EPOCHS
    assert sorted(p.name for p in shared.iterdir()) == ["history.csv"]
    assert list(tmp.iterdir()) == []


def test_killed_worker_resumes_from_backup(server, tmp_path):
    shared, tmp = tmp_path / "shared", tmp_path / "tmp"
    tmp.mkdir()
    # Worker 1 dies (SIGKILL) in the middle of epoch 2; the chief then
    # waits in a collective until the cluster is stopped, as on a real
    # cluster, and both are restarted with the same command.
    procs = _start_workers(server, shared, tmp, "--kill=1,2,1")
    try:
        killed_output = procs[1].communicate(timeout=loopback.TIMEOUT)[0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        outputs = [p.communicate()[0] for p in procs]
    assert procs[1].returncode == -signal.SIGKILL, killed_output[-3000:]
    assert "RESULT" not in outputs[0] + outputs[1]
    assert len(_history_rows(shared)) == 2  # epochs 0 and 1 finished
    assert (shared / "backup").is_dir()

    procs = _start_workers(server, shared, tmp)
    outputs = loopback.finish(procs)
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-3000:]
    weights, history = _one_process_reference()
    for out in outputs:
        result = _result(out)
        # Only epochs 2 and 3 ran again, from the backup of epoch 1.
        np.testing.assert_allclose(
            result["loss"], history["loss"][2:], atol=1e-5
        )
        _assert_weights_close(result["weights"], weights)
    assert len(_history_rows(shared)) == loopback_worker.EPOCHS
    assert not (shared / "backup").exists()


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


def test_multi_worker_setup_on_loopback(server, tmp_path):
    # Two worker processes on 127.0.0.1 build the strategy through the
    # recipe harness (kdl.training.setup) and all-reduce across both: the
    # strategy is created before seeding starts TF's runtime (else
    # "Collective ops must be configured at program startup").
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    command = ["-c", MULTI_WORKER_SETUP, str(tmp_path / "out")]
    procs = loopback.start_workers(command, tmp, server=server)
    outputs = loopback.finish(procs, timeout=90)
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-3000:]
        assert "replicas 2 sum 2.0" in out, out[-3000:]


@pytest.mark.parametrize("replicas, shuffle", [(1, False), (2, True)])
def test_fit_distributed_equals_fit(replicas, shuffle):
    # fit_distributed on 1 replica or 2 (MirroredStrategy over 2 logical
    # CPUs) == Keras's fit and evaluate in one process, also on a dataset
    # reshuffled every epoch (iterated as Keras's fit iterates it).
    if replicas == 2:
        strategy = test_case.two_replica_strategy()
    else:
        strategy = tf.distribute.get_strategy()
    data = loopback_worker.make_dataset(shuffle)
    with strategy.scope():
        model = loopback_worker.make_model()
    history = training.fit_distributed(
        model,
        data,
        epochs=loopback_worker.EPOCHS,
        validation_data=loopback_worker.make_dataset().take(2),
        verbose=0,
    ).history
    weights, expected = _one_process_reference(shuffle)
    _assert_weights_close(model.get_weights(), weights)
    assert sorted(history) == ["loss", "val_loss"]
    for key in history:
        np.testing.assert_allclose(history[key], expected[key], atol=1e-5)
    evaluated = training.evaluate_distributed(model, data)
    assert evaluated == pytest.approx(expected["evaluate"], abs=1e-5)


def test_fit_distributed_resumes_after_interruption(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    data = loopback_worker.make_dataset()
    backup = str(tmp_path / "backup")
    model = loopback_worker.make_model()
    with pytest.raises(RuntimeError, match="interrupted"):
        training.fit_distributed(
            model,
            data,
            epochs=4,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(backup), Interrupt()],
        )
    model = loopback_worker.make_model()  # a fresh process's model
    history = training.fit_distributed(
        model,
        data,
        epochs=4,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup)],
    )
    weights, expected = _one_process_reference()
    assert len(history.history["loss"]) == 2  # epochs 2 and 3
    np.testing.assert_allclose(
        history.history["loss"], expected["loss"][2:], atol=1e-5
    )
    _assert_weights_close(model.get_weights(), weights)


def test_fit_distributed_errors():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    x = np.zeros((8, 4), "float32")
    with pytest.raises(ValueError, match="compile"):
        training.fit_distributed(model, x, x[:, :1])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="y=None"):
        training.fit_distributed(model, x)


def test_single_process_is_chief():
    assert training.is_chief()
    assert not training.is_multi_worker()
    assert not training.is_multi_worker(test_case.two_replica_strategy())


class OwnStepModel(keras.Model):
    """A model with its own `train_step` and loss tracker."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            1, kernel_initializer=keras.initializers.GlorotUniform(seed=3)
        )
        self.tracker = keras.metrics.Mean(name="own_loss")

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = self.compute_loss(x, y, self(x))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.tracker.update_state(
            loss * self.distribute_strategy.num_replicas_in_sync
        )
        return {"own_loss": self.tracker.result()}

    @property
    def metrics(self):
        return [self.tracker]


def test_fit_distributed_runs_a_models_own_train_step():
    # Its own train_step, loss tracker and log names, on 2 replicas ==
    # Keras's fit in one process.
    data = loopback_worker.make_dataset()
    histories, weights = [], []
    for strategy in (
        tf.distribute.get_strategy(),
        test_case.two_replica_strategy(),
    ):
        with strategy.scope():
            model = OwnStepModel()
            model.compile(keras.optimizers.SGD(0.05), "mse")
        if strategy.num_replicas_in_sync == 1:
            history = model.fit(data, epochs=2, verbose=0)
        else:
            history = training.fit_distributed(model, data, epochs=2, verbose=0)
        histories.append(history.history)
        weights.append(model.get_weights())
    _assert_weights_close(weights[1], weights[0])
    assert list(histories[1]) == ["own_loss"]
    np.testing.assert_allclose(
        histories[1]["own_loss"], histories[0]["own_loss"], atol=1e-5
    )
