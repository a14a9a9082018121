"""The recipes under `--strategy=multi_worker`, on two loopback workers.

Two worker processes (127.0.0.1, free ports, `TF_CONFIG`:
tests/training/loopback.py) run the same command lines with the same
`--output_dir`, as on two machines sharing a file system: `scrn_lm.py
--smoke --models=scrn --seeds=0` (the SCRN language model, one seed) and
`lenet.py --smoke --seeds=0 ...` (LeNet-5 and its four transfer arms through
`kdl.models.train_classifier`), one after the other in one process per
worker (tests/recipes/cli_driver.py), then `scrn_lm.py` once more, which
reuses its finished arms. The two workers are forks of one process that
imported TensorFlow (`loopback.ForkServer`): one TensorFlow import instead
of two. Meanwhile this
process runs the same recipes in one process (Keras's `fit`, the same
global batch) as the reference. The chief alone writes the results,
plots, caches and logs; the numbers equal the one-process run's.
"""

import json
import os
import time

import numpy as np
import pytest

from tests.recipes import recipe_testing
from tests.training import loopback

# name: the `--smoke` run's flags besides --strategy / --output_dir: the
# command line of each worker (`recipe_testing.command_line`) and the
# `flags_for` overrides of the one-process reference.
RUNS = {
    "scrn_lm": dict(models=["scrn"], seeds=[0]),
    "lenet": dict(  # below --smoke's sizes: every arm still runs
        seeds=[0],
        target_train_size=64,
        source_train_size=128,
        test_examples=64,
        deepfool_examples=8,
        ascent_steps=1,
    ),
}
TIMEOUT = 300  # a bound for a loaded machine; ~1 min on 2 idle cores


def _one_process(name, overrides, output_dir):
    module = recipe_testing.load_recipe(name)
    values = recipe_testing.flags_for(
        module, smoke=True, output_dir=str(output_dir), **overrides
    )
    return module.run(values)


def _files(folder):
    """Relative paths of the files below `folder`; TensorBoard event files
    (named by time, host and process) as `<folder>/events`."""
    found = set()
    for root, _, names in os.walk(folder):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), folder)
            if name.startswith("events.out.tfevents."):
                rel = os.path.join(os.path.dirname(rel), "events")
            found.add(rel)
    return found


def _event_file_pids(folder):
    """The process ids in the names of the TensorBoard event files below
    `folder` (`events.out.tfevents.<time>.<host>.<pid>.<n>.v2`)."""
    return {
        int(name.split(".")[-3])
        for _, _, names in os.walk(folder)
        for name in names
        if name.startswith("events.out.tfevents.")
    }


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-6)


def check_scrn_lm(results, reference):
    [row], [expected] = results["rows"], reference["rows"]
    assert row["model"] == expected["model"] == "SCRN"
    assert len(row["runs"]) == len(expected["runs"]) == 1
    for run, ref in zip(row["runs"], expected["runs"]):
        for key in ("valid_perplexity", "test_perplexity"):
            _close(run[key], ref[key])
        _close(
            run["valid_perplexity_per_epoch"], ref["valid_perplexity_per_epoch"]
        )
        assert run["sample_ids"] == ref["sample_ids"]


def check_lenet(results, reference):
    _close(results["source_test_error"], reference["source_test_error"])
    assert results["transfer"].keys() == reference["transfer"].keys()
    for mode, summary in results["transfer"].items():
        [run], [ref] = summary["runs"], reference["transfer"][mode]["runs"]
        for key in ("test_loss", "test_accuracy"):
            _close(run[key], ref[key])
        for key in ("loss", "val_loss", "val_accuracy"):
            _close(run["history"][key], ref["history"][key])
    _close(results["deepfool"]["rho_all"], reference["deepfool"]["rho_all"])


CHECKS = {"scrn_lm": check_scrn_lm, "lenet": check_lenet}


def _run_both(server, tmp_path, one, tmp):
    """The workers (forks of `server`) run `runs.json` while this process
    runs the one-process references; returns the workers, their outputs
    and the references."""
    procs = loopback.start_workers(
        lambda index: [
            "tests/recipes/cli_driver.py",
            str(tmp_path / "runs.json"),
            str(tmp_path / f"report{index}.json"),
        ],
        tmp,
        server=server,
    )
    try:
        # The reference runs while the workers do.
        references = {}
        for name, overrides in RUNS.items():
            start = time.perf_counter()
            references[name] = _one_process(name, overrides, one / name)
            print(f"one process: {name} {time.perf_counter() - start:.1f} s")
        outputs = loopback.finish(procs, timeout=TIMEOUT)
    finally:
        loopback.kill(procs)
    return procs, outputs, references


def test_two_workers_run_the_recipes_like_one_process(tmp_path):
    shared, one, tmp = tmp_path / "shared", tmp_path / "one", tmp_path / "tmp"
    tmp.mkdir()
    where = "--strategy=multi_worker", "--output_dir={}"
    runs = [
        [
            name,
            [
                *recipe_testing.command_line(**overrides),
                where[0],
                where[1].format(shared / name),
            ],
        ]
        for name, overrides in RUNS.items()
    ]
    # Run again: every arm is reused (the chief decides; worker 1 reads the
    # chief's cached arms) and the report is written anew.
    runs.append(runs[0])
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    with loopback.ForkServer() as server:
        procs, outputs, references = _run_both(server, tmp_path, one, tmp)
    for index, (proc, output) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, output[-3000:]
        report = json.loads((tmp_path / f"report{index}.json").read_text())
        print(f"worker {index}:", [(r["name"], r["seconds"]) for r in report])
        for run in report:
            assert run["returncode"] == 0, run["error"] or output[-3000:]
    # Worker 1 trained too (each line: an epoch of the progress bar), and
    # both reused the SCRN arm in the second scrn_lm run.
    assert outputs[1].count("val_loss:") == outputs[0].count("val_loss:") > 0
    for output in outputs:
        assert output.count("Reusing the finished run") == 1, output[-3000:]
    for name, check in CHECKS.items():
        results = json.loads((shared / name / "results.json").read_text())
        check(results, references[name])
        # Written by the chief alone: the same files as one process writes
        # (a second writer would add event files and double the CSV rows),
        # every event file from the chief's process.
        assert results["provenance"]["cluster"] == {
            "task": "worker_0",
            "tasks": {"worker": 2},
            "replicas": 2,
        }
        assert _files(shared / name) == _files(one / name)
        assert _event_file_pids(shared / name) == {procs[0].pid}
        for csv in (one / name).rglob("history.csv"):
            copy = shared / name / csv.relative_to(one / name)
            assert len(copy.read_text().splitlines()) == len(
                csv.read_text().splitlines()
            )
    assert list(tmp.iterdir()) == []  # worker 1's temporary folder is gone


@pytest.mark.parametrize("name", sorted(RUNS))
def test_runs_match_the_command_lines(name):
    # The in-process reference and the command line set the same flags.
    overrides = RUNS[name]
    module = recipe_testing.load_recipe(name)
    parsed = recipe_testing.flags_for(module)
    parsed(["recipe", *recipe_testing.command_line(**overrides)])
    expected = recipe_testing.flags_for(module, smoke=True, **overrides)
    assert parsed.flag_values_dict() == expected.flag_values_dict()
