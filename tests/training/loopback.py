"""A cluster of worker processes on 127.0.0.1, for the multi-worker tests.

`start_workers` starts one process per worker with its own `TF_CONFIG`
(free ports on 127.0.0.1), all with the same command, as a user would on
several machines sharing a file system; `finish` waits for them with a
timeout and kills any process still running, so a test never leaves one
behind. Used by tests/training/multi_worker_test.py and
tests/recipes/multi_worker_recipes_test.py.
"""

import concurrent.futures
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 150  # seconds per phase: generous, for a machine under load


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_workers(command, tmp_dir, count=2):
    """Starts `count` workers of one cluster running `command`.

    Args:
        command: the argument list, or a function of the worker index
            returning it (e.g. a per-worker report file).
        tmp_dir: the workers' `TMPDIR` (their temporary folders go there,
            so a test can check they are removed).
        count: the number of workers; worker 0 is the chief.

    Returns:
        The `subprocess.Popen` objects (stdout and stderr merged, text).
    """
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(count)]}
    path = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    procs = []
    for index in range(count):
        task = {"type": "worker", "index": index}
        config = {"cluster": cluster, "task": task}
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps(config),
            TF_CPP_MIN_LOG_LEVEL="2",
            TMPDIR=str(tmp_dir),
            PYTHONPATH=path,
        )
        args = command(index) if callable(command) else command
        procs.append(
            subprocess.Popen(
                [sys.executable, *args],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    return procs


def finish(procs, timeout=TIMEOUT):
    """The outputs of `procs` once they all end. If one still runs
    `timeout` seconds from now, `subprocess.TimeoutExpired` is raised and
    every process still running is killed."""
    deadline = time.monotonic() + timeout

    def output(p):
        return p.communicate(timeout=max(deadline - time.monotonic(), 0.1))[0]

    # All pipes drained at once: a worker blocked on a full pipe would
    # stall the collective the other worker waits in.
    try:
        with concurrent.futures.ThreadPoolExecutor(len(procs)) as pool:
            return list(pool.map(output, procs))
    finally:
        kill(procs)


def kill(procs):
    """Kills (SIGKILL) every process of `procs` still running, and reaps
    it."""
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
