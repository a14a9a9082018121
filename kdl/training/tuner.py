"""Runs a recipe's KerasTuner HyperModel and writes what it found."""

import csv
import json
import os

TUNERS = ("random", "hyperband", "bayesian")


def run_tuner(
    hypermodel,
    output_dir,
    objective="val_loss",
    tuner="random",
    max_trials=10,
    seed=0,
    max_epochs=None,
    distribution_strategy=None,
    project_name="tuning",
    **fit_kwargs,
):
    """Searches `hypermodel` with KerasTuner; resumes an interrupted search.

    The search state lives in `output_dir/<project_name>`; running again with
    the same folder reloads finished trials and continues (KerasTuner's
    `overwrite=False`). Distributed tuning uses KerasTuner's own chief/worker
    mode (the `KERASTUNER_*` environment variables); `distribution_strategy`
    runs each trial under a `tf.distribute` strategy.

    Args:
        hypermodel: a `keras_tuner.HyperModel`.
        output_dir: folder for the search state and the reports.
        objective: metric to minimise (or a `keras_tuner.Objective`).
        tuner: one of `TUNERS`.
        max_trials: number of trials (random and bayesian).
        max_epochs: hyperband's `max_epochs` (default: `epochs` in
            `fit_kwargs`, else 10).
        **fit_kwargs: passed to `tuner.search` (x, y, epochs, ...).

    Returns:
        A dict with `best_hyperparameters` and `trials` (a list of dicts with
        `trial_id`, `score`, `status` and the hyperparameter values). Both are
        also written: `best_hyperparameters.json` and `trials.csv`.
    """
    import keras_tuner

    if tuner not in TUNERS:
        raise ValueError(
            f"Unknown tuner. Expected one of {list(TUNERS)}. "
            f"Received: tuner={tuner!r}"
        )
    if int(max_trials) < 1:
        raise ValueError(
            f"`max_trials` must be >= 1. Received: max_trials={max_trials}"
        )
    common = dict(
        hypermodel=hypermodel,
        objective=objective,
        seed=seed,
        directory=output_dir,
        project_name=project_name,
        overwrite=False,
        distribution_strategy=distribution_strategy,
    )
    if tuner == "random":
        search = keras_tuner.RandomSearch(max_trials=max_trials, **common)
    elif tuner == "bayesian":
        search = keras_tuner.BayesianOptimization(
            max_trials=max_trials, **common
        )
    else:
        search = keras_tuner.Hyperband(
            max_epochs=max_epochs or fit_kwargs.get("epochs", 10), **common
        )
    search.search(**fit_kwargs)

    trials = []
    names = []
    for trial in search.oracle.trials.values():
        values = dict(trial.hyperparameters.values)
        for name in values:
            if name not in names:
                names.append(name)
        trials.append(
            {
                "trial_id": trial.trial_id,
                "score": trial.score,
                "status": str(trial.status),
                **values,
            }
        )
    trials.sort(key=lambda t: (t["score"] is None, t["score"]))
    best = search.get_best_hyperparameters(1)[0].values
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "best_hyperparameters.json"), "w") as f:
        json.dump(best, f, indent=2, sort_keys=True)
    with open(os.path.join(output_dir, "trials.csv"), "w", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=["trial_id", "score", "status", *names]
        )
        writer.writeheader()
        writer.writerows(trials)
    return {"best_hyperparameters": best, "trials": trials}
