"""KerasTuner's distributed mode on loopback: a chief oracle and 2 workers.

Each search runs `recipes/basics.py --smoke --tune` (the cheapest recipe
search: an MLP on the sklearn digits) with one `--output_dir` (as on a
shared file system): once as the chief (`KERASTUNER_TUNER_ID=chief`, which
serves the oracle) and once per worker (`tuner0`, ...), on 127.0.0.1 and a
free port. Two workers share the random search; the hyperband and bayesian
oracles get one worker each. The processes are forks of one process that
imported TensorFlow for the tests of this file (`loopback.ForkServer`:
~3 s of CPU a process instead of ~9). Every trial completes exactly once,
only the chief writes `results.json`, and every process ends by itself
(bounded by a timeout).
"""

import json

import pytest

from tests.recipes import recipe_testing
from tests.training import loopback


@pytest.fixture(scope="module")
def server():
    with loopback.ForkServer() as server:
        yield server


@pytest.mark.parametrize(
    "tuner, workers", [("random", 2), ("hyperband", 1), ("bayesian", 1)]
)
def test_chief_and_workers_run_each_trial_once(
    server, tmp_path, tuner, workers
):
    port = str(loopback.free_ports(1)[0])
    command = [
        recipe_testing.recipe_path("basics"), "--smoke",
        "--tune", f"--tuner={tuner}", "--max_trials=2",
        f"--output_dir={tmp_path}",
    ]  # fmt: skip
    procs = {}
    for tuner_id in ["chief"] + [f"tuner{i}" for i in range(workers)]:
        env = dict(
            KERASTUNER_TUNER_ID=tuner_id,
            KERASTUNER_ORACLE_IP="127.0.0.1",
            KERASTUNER_ORACLE_PORT=port,
        )
        procs[tuner_id] = server.start(command, env, recipe_testing.ROOT)
    outputs = {}
    try:
        for tuner_id, proc in procs.items():
            outputs[tuner_id] = proc.communicate(timeout=150)[0]
    finally:
        loopback.kill(procs.values())
    for tuner_id, proc in procs.items():
        assert proc.returncode == 0, (tuner_id, outputs[tuner_id][-3000:])
    results = json.loads((tmp_path / "results.json").read_text())
    trials = results["trials"]
    ids = [t["trial_id"] for t in trials]
    assert len(ids) == len(set(ids)) >= 1
    if tuner != "hyperband":
        assert len(ids) == 2  # --max_trials
    assert {t["status"] for t in trials} == {"COMPLETED"}
    assert all(t["score"] is not None for t in trials)
    assert results["best_hyperparameters"]
    # Each trial ran in exactly one process: its folder holds one trial.
    tune = tmp_path / "tune" / "tuning"
    folders = sorted(
        p.name for p in tune.iterdir() if p.name.startswith("trial")
    )
    assert folders == sorted(f"trial_{i}" for i in ids)
