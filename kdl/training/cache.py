"""Finished sub-runs, reused only when their full config is unchanged."""

import hashlib
import json
import os
import shutil
import time

from kdl.training import multi_worker
from kdl.training.atomic import to_jsonable
from kdl.training.atomic import write_json

_FILE = "result.json"


def config_key(config):
    """A stable SHA-256 of a JSON-able config (key order does not matter)."""
    text = json.dumps(to_jsonable(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def cached_run(directory, config, fn, verbose=True, timings=None):
    """Returns `fn()`'s result, reusing the one saved in `directory`.

    A recipe made of several arms (models, methods) calls this per arm, so
    a run that was killed does not redo the arms it finished, and an arm
    killed midway resumes from what it left in `directory` (e.g. Keras's
    `BackupAndRestore` folder) -- but only under the same config: when an
    unfinished arm was started with another config, its folder is emptied
    first, so stale checkpoints, logs or CSV rows never leak into the new
    run. The result is
    saved as `directory/result.json` together with `config` and a hash of
    both. It is reused only when the saved config equals `config` exactly (a
    changed flag, seed or data size never reuses a stale result) and the
    hash verifies (a torn or edited file is recomputed, with a message).

    In a multi-worker cluster every worker calls this at the same point
    with the same `directory` (one shared file system). Whether to reuse is
    the chief's decision, broadcast to all (they must all train, or all
    skip, the arm), and only the chief writes to `directory`; the others
    compute into their temporary mirror of it
    (`kdl.training.multi_worker.local_path`).

    Args:
        directory: the arm's folder (created).
        config: everything the result depends on (JSON-able).
        fn: a callable with no arguments returning a JSON-able result.
        timings: optional list; gets `{"arm", "wall_seconds", "cpu_seconds",
            "reused"}` with the seconds the arm took when it was computed
            (also when it is reused now), so a report can state the whole
            cost of its numbers.

    Returns:
        The result as it reads back from JSON (tuples become lists, NumPy
        values plain numbers), the same on the first and on a reused run.
    """
    config = to_jsonable(config)
    key = config_key(config)
    # In a multi-worker cluster every worker runs this with the same
    # `directory`: all read the chief's record, the chief decides, and a
    # non-chief worker computes into its temporary mirror of `directory`.
    local = multi_worker.local_path(directory)
    directory = multi_worker.shared_path(local)  # the chief's folder
    saved = _read_record(os.path.join(directory, _FILE))
    reuse = saved is not None and saved.get("key") == key
    if saved is not None and not reuse and verbose:
        print(f"{directory}: the config changed; rerunning.")
    chief = multi_worker.is_chief()
    if chief and not reuse:
        _start(local, config, key)  # before the others pass the barrier
    if multi_worker.chief_decides(reuse) != reuse:
        if not reuse:  # the chief reuses a record this worker cannot read
            raise RuntimeError(
                f"{multi_worker.task_name()}: the chief reuses the finished "
                f"run in {directory}, but this worker cannot read it: "
                "every worker needs the same --output_dir on one shared "
                "file system."
            )
        reuse = False  # written by the chief after this worker read it
    if reuse:
        if verbose:
            print(f"Reusing the finished run in {directory}")
        if timings is not None:
            timings.append({**saved.get("seconds", {}), "reused": True})
        return saved["result"]
    if not chief:
        _start(local, config, key)
    wall, cpu = time.perf_counter(), time.process_time()
    result = to_jsonable(fn())
    seconds = {
        "arm": os.path.basename(os.path.normpath(directory)),
        "wall_seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
    }
    if timings is not None:
        timings.append({**seconds, "reused": False})
    record = {"config": config, "key": key, "result": result}
    record["hash"] = config_key({"config": config, "result": result})
    record["seconds"] = seconds
    write_json(os.path.join(local, _FILE), record)
    return json.loads(json.dumps(result))


def _read_record(path):
    """The saved record at `path` if it is intact, else None (with a
    message when a file is there but torn or altered)."""
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            saved = json.load(f)
        intact = saved.get("hash") == config_key(
            {"config": saved.get("config"), "result": saved.get("result")}
        )
    except (OSError, ValueError, AttributeError):
        intact = False
    if not intact:
        print(
            f"{path}: unreadable, or its content does not match its SHA-256 "
            "(a torn or edited file); recomputing."
        )
        return None
    return saved


def _start(directory, config, key):
    """Marks `directory` as started under `key`; first empties it when an
    unfinished run of another config left files there."""
    started = os.path.join(directory, "started.json")
    try:
        with open(started) as f:
            stale = json.load(f).get("key") != key
    except (OSError, ValueError, AttributeError):
        stale = os.path.isdir(directory) and bool(os.listdir(directory))
    if stale:
        print(f"{directory}: removing a run started with another config.")
        shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    write_json(started, {"config": config, "key": key})
