"""Processes of a test: a cluster of workers on 127.0.0.1, and the like.

`start_workers` starts one process per worker with its own `TF_CONFIG`
(free ports on 127.0.0.1), all with the same command, as a user would on
several machines sharing a file system; `finish` waits for them with a
timeout and kills any process still running, so a test never leaves one
behind. Used by tests/training/multi_worker_test.py and
tests/recipes/multi_worker_recipes_test.py.

`ForkServer` starts such processes for ~0.5 s of CPU each instead of the
~7 s a new Python process spends importing TensorFlow: one server process
(tests/training/forkserver.py) imports it once and forks them. The tests
that start several processes (loopback workers, a tuner chief and its
workers, recipes killed on purpose, a fresh process that reloads a model)
use it.
"""

import concurrent.futures
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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


class ForkServer:
    """Starts the test's processes as forks of one process that imported
    TensorFlow (tests/training/forkserver.py); a context manager that
    kills every process still running at its exit, the server included.

    Example:

    ```python
    with loopback.ForkServer() as server:
        proc = server.start(["-m", "some.module", "arg"], env={"A": "1"})
        output, _ = proc.communicate(timeout=60)
    ```
    """

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="kdl-forks-")
        self.changed = threading.Condition()  # guards the next three
        self.started = []  # pids, in the order of the requests
        self.returncodes = {}  # pid: returncode, once the server reaped it
        self.closed = False  # the server ended
        self.server = subprocess.Popen(
            [sys.executable, "-m", "tests.training.forkserver"],
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=_path()),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.server.stdout:
            word, *values = line.split()
            with self.changed:
                if word == "started":
                    self.started.append(int(values[0]))
                elif word == "exited":
                    self.returncodes[int(values[0])] = int(values[1])
                self.changed.notify_all()
        with self.changed:  # the server is gone, and every child with it
            self.closed = True
            self.changed.notify_all()

    def send(self, request):
        """Sends a request line to the server (if it still reads them)."""
        try:
            self.server.stdin.write(json.dumps(request) + "\n")
            self.server.stdin.flush()
        except (OSError, ValueError):  # closing: it kills every child
            pass

    def start(self, args, env=None, cwd=ROOT):
        """Starts `python *args` (`env` added to this process's
        environment) in a fork; returns a `Forked`, which has the methods
        of a `subprocess.Popen` with stdout and stderr merged (text)."""
        with self.changed:
            count = len(self.started)
            output = os.path.join(self.folder, f"{count}.out")
            self.send(
                {
                    "start": list(args),
                    "env": dict(env or {}),
                    "cwd": str(cwd),
                    "output": output,
                }
            )
            if not self.changed.wait_for(
                lambda: len(self.started) > count or self.closed, TIMEOUT
            ):
                raise RuntimeError("the fork server does not answer")
            if self.closed:
                raise RuntimeError("the fork server ended")
            return Forked(self, self.started[count], output)

    def close(self):
        """Kills every process still running and the server; waits."""
        try:
            self.server.stdin.close()
            self.server.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        kill([self.server])
        self.reader.join(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class Forked:
    """A process of a `ForkServer`, with the methods of `subprocess.Popen`
    the tests use (its output is read from a file once it ends)."""

    def __init__(self, server, pid, output):
        self.server, self.pid, self.output = server, pid, output
        self.returncode = None

    def poll(self):
        with self.server.changed:
            self.returncode = self.server.returncodes.get(self.pid)
        return self.returncode

    def wait(self, timeout=None):
        with self.server.changed:
            ended = self.server.changed.wait_for(
                lambda: (
                    self.pid in self.server.returncodes or self.server.closed
                ),
                timeout,
            )
        if not ended:
            raise subprocess.TimeoutExpired(str(self.pid), timeout)
        if self.poll() is None:  # the server was closed
            self.returncode = -signal.SIGKILL
        return self.returncode

    def communicate(self, timeout=None):
        self.wait(timeout)
        with open(self.output) as f:
            return f.read(), None

    def send_signal(self, sig):
        if self.poll() is None and not self.server.closed:
            self.server.send({"kill": self.pid, "signal": int(sig)})

    def kill(self):
        self.send_signal(signal.SIGKILL)


def _path():
    return os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )


def start_workers(command, tmp_dir, count=2, server=None):
    """Starts `count` workers of one cluster running `command`.

    Args:
        command: the argument list, or a function of the worker index
            returning it (e.g. a per-worker report file).
        tmp_dir: the workers' `TMPDIR` (their temporary folders go there,
            so a test can check they are removed).
        count: the number of workers; worker 0 is the chief.
        server: a `ForkServer` to fork the workers from, or None for new
            Python processes.

    Returns:
        The `subprocess.Popen` (or `Forked`) objects (stdout and stderr
        merged, text).
    """
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(count)]}
    procs = []
    for index in range(count):
        task = {"type": "worker", "index": index}
        config = {"cluster": cluster, "task": task}
        env = dict(
            TF_CONFIG=json.dumps(config),
            TF_CPP_MIN_LOG_LEVEL="2",
            TMPDIR=str(tmp_dir),
            PYTHONPATH=_path(),
        )
        args = command(index) if callable(command) else command
        if server is not None:
            procs.append(server.start(args, env))
            continue
        procs.append(
            subprocess.Popen(
                [sys.executable, *args],
                env=dict(os.environ, **env),
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
