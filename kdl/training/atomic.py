"""Atomic file writes: a reader never sees a torn file."""

import contextlib
import json
import os
import signal
import tempfile

import numpy as np


def to_jsonable(value):
    """Nested dicts/lists with NumPy/TF values -> plain JSON values.

    NaN becomes `None`, infinities the strings "inf" / "-inf".
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if hasattr(value, "numpy"):
        return to_jsonable(np.asarray(value))
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else str(value)
    return value


@contextlib.contextmanager
def atomic_open(path, mode="w"):
    """Opens a temporary file beside `path`; renames it onto `path` on success.

    If the block raises (or the process dies), `path` keeps its old content
    and the temporary file is removed (or left as `.<name>.*.tmp`, never read).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _kill_point(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


# The kill-during-write tests (tests/recipes/kill_during_write_test.py) set
# this to a comma-separated list of file names: the process writing one of
# them SIGKILLs itself after the temporary file is complete, before the
# rename, as a crash at the worst moment would.
KILL_BEFORE_RENAME = "KDL_TEST_KILL_BEFORE_RENAME"


def _kill_point(path):
    names = os.environ.get(KILL_BEFORE_RENAME, "")
    if names and os.path.basename(path) in names.split(","):
        os.kill(os.getpid(), signal.SIGKILL)


def write_json(path, value):
    """Writes `value` as sorted, indented JSON, atomically. Returns `path`."""
    with atomic_open(path) as f:
        json.dump(to_jsonable(value), f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def write_text(path, text):
    """Writes `text` atomically. Returns `path`."""
    with atomic_open(path) as f:
        f.write(text)
    return path


def copy_file(source, path):
    """Copies `source` onto `path` atomically. Returns `path`."""
    with open(source, "rb") as src, atomic_open(path, "wb") as dst:
        dst.write(src.read())
    return path
