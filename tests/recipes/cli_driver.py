"""Runs several recipes from their command lines in one Python process.

    python tests/recipes/cli_driver.py runs.json report.json

`runs.json` lists `[name, [args...]]`; each recipe runs as
`python recipes/<name>.py args...` would (`runpy` with `__name__ ==
"__main__"`, `sys.argv` set, so its `define_flags(); app.run(main)` block and
absl's parsing of the command line run for real), one after the other.
`report.json` gets, per run, the exit code, the traceback of an error and
the wall seconds.
Between runs the flags a recipe defined are deleted from absl's global
`FLAGS` (this process exists for these runs only) and Keras's session is
cleared. One process instead of one per recipe saves a TensorFlow start-up
(~5-8 s of CPU) per recipe.
"""

import json
import os
import runpy
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def run_one(name, args):
    # absl's own flags (app, logging) are defined on import: before `before`.
    import keras
    from absl import app  # noqa: F401
    from absl import flags
    from absl import logging  # noqa: F401

    before = set(flags.FLAGS)
    path = os.path.join(ROOT, "recipes", f"{name}.py")
    sys.argv = [path, *args]
    code, error, start = 0, None, time.perf_counter()
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0
    except BaseException:  # reported, then the next recipe runs
        code, error = 1, traceback.format_exc()
    finally:
        for flag in set(flags.FLAGS) - before:
            delattr(flags.FLAGS, flag)
        flags.FLAGS.unparse_flags()
        keras.backend.clear_session()
    seconds = round(time.perf_counter() - start, 1)
    return {
        "name": name,
        "args": args,
        "returncode": code,
        "error": error,
        "seconds": seconds,
    }


def main(runs_path, report_path):
    with open(runs_path) as f:
        runs = json.load(f)
    report = [run_one(name, args) for name, args in runs]
    with open(report_path, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:])
