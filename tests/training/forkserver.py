"""A process that imports TensorFlow once and forks the test's processes.

    python -m tests.training.forkserver

Importing TensorFlow and Keras costs a new Python process ~6-7 s of CPU,
most of what a test's small worker process spends. This server pays it
once: it imports them (and runs nothing: no op, no device, no thread pool
of TensorFlow's runtime is made), then reads requests, one JSON line each,
on its standard input:

    {"start": [args...], "env": {...}, "cwd": ..., "output": path}
        forks a child that sets `env`, the working folder, `sys.argv`,
        sends its output (stdout and stderr) to the file `output` and runs
        `args` as `python args...` would (`-m module ...`, `-c code ...`
        or `script.py ...`); replies `started PID`.
    {"kill": PID, "signal": N}
        sends signal N to its child PID if it has not been reaped yet.

and reports `exited PID RETURNCODE` (a negative signal number for a
killed child, as `subprocess` reports it) for each child it reaps. At the
end of its standard input it SIGKILLs the children still running, reaps
them and exits; a child gets SIGKILL if the server dies. Each child is a
fresh process as far as a test can tell: its own TensorFlow runtime,
Keras session, `TF_CONFIG` and absl flags, made after the fork. It ends
as Python ends a script (exit code, traceback of an uncaught error, the
functions registered with `atexit` since the fork, `logging.shutdown`),
but without tearing down the modules one by one: with TensorFlow loaded
that costs ~1.6 s of CPU and changes nothing a test can see.
"""

import atexit
import json
import logging
import os
import select
import signal
import sys
import time

import keras  # noqa: F401
import tensorflow  # noqa: F401


def _report(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _reap(children):
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)
            _report(f"exited {pid} {os.waitstatus_to_exitcode(status)}")


def serve():
    """Serves requests until the end of stdin; returns a request to run
    in a forked child (in that child), or None (in the server)."""
    children = set()
    pending = b""
    stdin = sys.stdin.buffer.raw
    _report("ready")
    while True:
        _reap(children)
        readable, _, _ = select.select([stdin], [], [], 0.05)
        if not readable:
            continue
        chunk = os.read(stdin.fileno(), 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            request = json.loads(line)
            if "kill" in request:
                if request["kill"] in children:
                    os.kill(request["kill"], request["signal"])
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                return request
            children.add(pid)
            _report(f"started {pid}")
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    while children:
        _reap(children)
        time.sleep(0.01)
    return None


def _die_with_parent():
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: no such guard
        pass


def run_child(request):
    """Runs the request in this (forked) process, as `python args...`;
    returns its exit code."""
    import runpy
    import tempfile
    import traceback

    _die_with_parent()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    os.environ.update(request.get("env", {}))
    tempfile.tempdir = None  # follow the child's TMPDIR
    if request.get("cwd"):
        os.chdir(request["cwd"])
    args = request["start"]
    try:
        if args[0] == "-m":
            sys.argv = [args[1], *args[2:]]
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        elif args[0] == "-c":
            sys.argv = ["-c", *args[2:]]
            code = compile(args[1], "<string>", "exec")
            exec(code, {"__name__": "__main__"})
        else:
            sys.argv = list(args)
            sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


class _AtExit:
    """Records the functions registered with `atexit` in a child, which
    then runs them itself (last registered first) before it exits."""

    def __init__(self):
        self.calls = []
        self.register_with_python = atexit.register
        atexit.register = self.register

    def register(self, function, *args, **kwargs):
        self.calls.append((function, args, kwargs))
        return self.register_with_python(function, *args, **kwargs)

    def run(self):
        for function, args, kwargs in reversed(self.calls):
            try:
                function(*args, **kwargs)
            except Exception:  # as Python does: print, go on
                import traceback

                traceback.print_exc()


def main():
    request = serve()
    if request is None:
        return
    at_exit = _AtExit()
    code = run_child(request)
    at_exit.run()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the documented exit of a forked child


if __name__ == "__main__":
    main()
