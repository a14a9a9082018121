"""The recipe harness: flags, strategy, precision, callbacks, results."""

import json
import os
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from kdl import training
from tests import test_case


def _flag_values(**defaults):
    values = flags.FlagValues()
    training.define_common_flags(flag_values=values, **defaults)
    return values


def test_common_flags_defaults_and_parse():
    values = _flag_values(output_dir="out/x", epochs=3)
    values(["prog", "--epochs=5", "--precision=mixed_bfloat16"])
    assert values.epochs == 5
    assert values.precision == "mixed_bfloat16"
    assert values.strategy == "auto"
    assert values.output_dir == "out/x"
    assert values.batch_size == 32


def test_common_flags_defined_twice_is_harmless():
    values = _flag_values(epochs=3)
    training.define_common_flags(flag_values=values, epochs=99)
    assert values["epochs"].default == 3


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


def test_set_precision():
    previous = training.set_precision("mixed_bfloat16")
    assert previous == "float32"
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    layer = keras.layers.Dense(2)
    assert layer.compute_dtype == "bfloat16"
    with pytest.raises(ValueError, match="precision='fp8'"):
        training.set_precision("fp8")


def test_setup_applies_flags(tmp_path):
    flags_obj = types.SimpleNamespace(
        output_dir=str(tmp_path / "run"),
        seed=3,
        precision="mixed_float16",
        strategy="auto",
        tpu="",
        smoke=True,
    )
    env = training.setup(flags_obj)
    assert os.path.isdir(env.output_dir)
    assert env.path("a.json").endswith("run/a.json")
    assert keras.config.dtype_policy().name == "mixed_float16"
    assert flags_obj.precision == "mixed_float16"  # never mutated
    with pytest.raises(ValueError, match="output_dir"):
        training.setup(
            types.SimpleNamespace(**{**vars(flags_obj), "output_dir": ""})
        )


def test_standard_callbacks(tmp_path):
    callbacks = training.standard_callbacks(str(tmp_path))
    kinds = {type(c).__name__ for c in callbacks}
    assert {
        "BackupAndRestore",
        "TensorBoard",
        "CSVLogger",
        "TerminateOnNaN",
    } <= kinds
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    model.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=callbacks)
    rows = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    assert (tmp_path / "logs").is_dir()
    with pytest.raises(ValueError, match="output_dir"):
        training.standard_callbacks("")


def test_write_results_and_plots(tmp_path):
    path = training.write_results(
        str(tmp_path),
        {"a": np.float32(1.5), "b": np.arange(3), "c": float("nan")},
    )
    data = json.loads(open(path).read())
    assert data == {"a": 1.5, "b": [0, 1, 2], "c": None}
    png = training.plot_curves(
        {"x": [1, 2, 3], "y": [3, 2, 1]}, str(tmp_path / "c.png"), logy=True
    )
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    history = {"loss": [2, 1], "val_loss": [3, 2]}
    assert os.path.exists(
        training.plot_history(history, str(tmp_path / "h.png"))
    )
    with pytest.raises(ValueError, match="accuracy"):
        training.plot_history(history, str(tmp_path / "h.png"), ("accuracy",))


def test_kernel_gradient_norms():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)]
    )
    x = np.random.RandomState(0).normal(size=(8, 4)).astype("float32")
    y = np.zeros((8,), "int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    norms = training.kernel_gradient_norms(model, x, y, loss)
    assert [n for n, _ in norms] == [layer.name for layer in model.layers]
    with tf.GradientTape() as tape:
        value = loss(y, model(x))
    expected = tape.gradient(value, model.layers[0].kernel)
    np.testing.assert_allclose(norms[0][1], np.linalg.norm(expected), 1e-5)


def _tiny_hypermodel():
    import keras_tuner

    class Tiny(keras_tuner.HyperModel):
        def build(self, hp):
            units = hp.Int("units", 1, 8, default=4)
            model = keras.Sequential(
                [
                    keras.Input((3,)),
                    keras.layers.Dense(units),
                    keras.layers.Dense(1),
                ]
            )
            model.compile(
                keras.optimizers.SGD(hp.Float("lr", 1e-3, 1e-1, default=0.01)),
                "mse",
            )
            return model

    return Tiny()


def test_run_tuner_writes_and_resumes(tmp_path):
    x = np.random.RandomState(0).normal(size=(32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    kwargs = dict(x=x, y=y, validation_data=(x, y), epochs=1, verbose=0)
    first = training.run_tuner(
        _tiny_hypermodel(), str(tmp_path), max_trials=2, **kwargs
    )
    assert len(first["trials"]) == 2
    assert set(first["best_hyperparameters"]) == {"units", "lr"}
    assert (tmp_path / "best_hyperparameters.json").exists()
    header = (tmp_path / "trials.csv").read_text().splitlines()[0]
    assert header.split(",")[:3] == ["trial_id", "score", "status"]
    # A second call with a larger budget continues the same search.
    second = training.run_tuner(
        _tiny_hypermodel(), str(tmp_path), max_trials=3, **kwargs
    )
    assert len(second["trials"]) == 3
    first_ids = {t["trial_id"] for t in first["trials"]}
    assert first_ids <= {t["trial_id"] for t in second["trials"]}
    with pytest.raises(ValueError, match="tuner='grid'"):
        training.run_tuner(_tiny_hypermodel(), str(tmp_path), tuner="grid")


def test_two_replica_strategy_fit():
    strategy = test_case.two_replica_strategy()
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    history = model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
