"""Where a published number came from: command, commit, machine, versions."""

import datetime
import os
import platform
import shlex
import subprocess
import sys
import time


def _git(args, cwd):
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def machine():
    """Cores, CPU model and memory of this machine."""
    cpu = ""
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_gib = None
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            memory_gib = round(int(line.split()[1]) / 2**20, 1)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "load_average_at_end": (
            list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        ),
    }


def versions():
    """Python, TensorFlow, Keras, NumPy and kdl versions."""
    import keras
    import numpy as np
    import tensorflow as tf

    import kdl

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "kdl": kdl.__version__,
    }


def command(argv=None):
    """The command line that started this process, as a shell string."""
    argv = list(sys.argv if argv is None else argv)
    if argv and argv[0].endswith(".py"):
        script = os.path.relpath(os.path.abspath(argv[0]), _repo_root())
        return shlex.join(["python", script, *argv[1:]])
    return shlex.join(["python", *argv])


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


# Where runs write what they publish: outputs, not code.
RUN_OUTPUTS = ("results", "benchmarks/results")


def git_state():
    """The commit checked out and whether tracked code differs from it.

    `dirty` ignores `RUN_OUTPUTS` (an earlier run of the same checkout
    rewriting results/*.json changes no code).
    """
    root = _repo_root()
    commit = _git(["rev-parse", "HEAD"], root)
    status = _git(
        [
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            *(f":(exclude){path}" for path in RUN_OUTPUTS),
        ],
        root,
    )
    return {
        "commit": commit,
        "dirty": bool(status) if status is not None else None,
    }


class Clock:
    """Wall and CPU seconds (all threads of this process) since creation."""

    def __init__(self):
        self.wall_start = time.perf_counter()
        self.cpu_start = time.process_time()

    def wall(self):
        return time.perf_counter() - self.wall_start

    def cpu(self):
        return time.process_time() - self.cpu_start


def provenance(clock, seeds, argv=None):
    """The provenance block of a results JSON.

    Args:
        clock: a `Clock` started when the run began.
        seeds: the seeds the run used (list of ints).
        argv: the command line (default `sys.argv`).
    """
    return {
        "command": command(argv),
        **git_state(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "machine": machine(),
        "versions": versions(),
        "wall_seconds": round(clock.wall(), 2),
        "cpu_seconds": round(clock.cpu(), 2),
        "seeds": [int(s) for s in seeds],
    }
