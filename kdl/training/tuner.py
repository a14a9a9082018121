"""Runs a recipe's KerasTuner HyperModel and writes what it found."""

import csv
import os

from kdl.training.atomic import atomic_open
from kdl.training.atomic import write_json

TUNERS = ("random", "hyperband", "bayesian")


def tuner_worker_id():
    """This process's `KERASTUNER_TUNER_ID` when it is a worker of a
    distributed search (a chief oracle is configured and this is not the
    chief), else None."""
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
    if "KERASTUNER_ORACLE_IP" not in os.environ or "chief" in tuner_id:
        return None
    return tuner_id or None


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
        also written: `best_hyperparameters.json` and `trials.csv`. On a
        worker of a distributed search, only `{"tuner_id": ...}`: the chief
        (whose `search` returns when every trial has ended) reports.
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
    if tuner_worker_id() is not None:
        # A worker of a distributed search: the chief's oracle holds the
        # trials and the chief reports them; a worker has nothing to add.
        return {"tuner_id": tuner_worker_id()}

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
    write_json(os.path.join(output_dir, "best_hyperparameters.json"), best)
    with atomic_open(os.path.join(output_dir, "trials.csv")) as f:
        writer = csv.DictWriter(
            f, fieldnames=["trial_id", "score", "status", *names]
        )
        writer.writeheader()
        writer.writerows(trials)
    return {"best_hyperparameters": best, "trials": trials}


def tune(hypermodel, setup, objective="val_loss", **fit_kwargs):
    """A recipe's `--tune`: searches `hypermodel` with the recipe's settings.

    Reads `--tuner`, `--max_trials` and `--seed` from `setup.settings`
    (after `--smoke`), keeps the search in `<output_dir>/tune`, runs each
    trial under the recipe's strategy when it has more than one replica, and
    writes the recipe's `results.json` (trials + provenance) like a normal
    run.

    Args:
        hypermodel: the recipe's `keras_tuner.HyperModel`.
        setup: the `RecipeSetup` of the run.
        objective: metric to minimise (or a `keras_tuner.Objective`).
        **fit_kwargs: for `tuner.search` (x, validation_data, epochs ...).

    Returns:
        The results dict (`best_hyperparameters`, `trials`, provenance); on
        a distributed-search worker `{"tuner_id": ...}`, and only the chief
        writes `results.json`.
    """
    settings = setup.settings
    strategy = setup.strategy
    found = run_tuner(
        hypermodel,
        setup.path("tune"),
        objective=objective,
        tuner=settings.tuner,
        max_trials=settings.max_trials,
        seed=settings.seed,
        distribution_strategy=(
            strategy if strategy.num_replicas_in_sync > 1 else None
        ),
        **fit_kwargs,
    )
    if "trials" not in found:  # a distributed-search worker
        return found
    return setup.finish({"tuner": settings.tuner, **found})
