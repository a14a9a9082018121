"""kdl.training.tuner: KerasTuner searches for recipes."""

import keras
import numpy as np
import pytest

from kdl import training


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


def test_tune_uses_the_recipe_settings_and_writes_results(tmp_path):
    from absl import flags

    values = flags.FlagValues()
    training.define_common_flags(values, output_dir=str(tmp_path))
    values(["prog", "--tune", "--max_trials=2", "--tuner=bayesian"])
    env = training.setup(values)
    x = np.random.RandomState(0).normal(size=(32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    results = training.tune(
        _tiny_hypermodel(),
        env,
        x=x,
        y=y,
        validation_data=(x, y),
        epochs=1,
        verbose=0,
    )
    assert results["tuner"] == "bayesian" and len(results["trials"]) == 2
    assert (tmp_path / "tune" / "trials.csv").exists()
    assert (tmp_path / "results.json").exists()
    assert results["provenance"]["seeds"] == [0]
