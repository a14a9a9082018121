"""A recipe killed while it writes a plot, a cache entry or results.json.

Every file `kdl.training` writes goes through `atomic_open` (a complete
temporary file, then a rename), so a crash at any moment leaves the old
file or the new one, never a torn one. The test makes the crash
deterministic: with `KDL_TEST_KILL_BEFORE_RENAME=<file name>` the process
SIGKILLs itself once the temporary file of `<file name>` is written, just
before the rename. It runs `basics.py --smoke --parts=sin` (the cheapest
recipe arm: 50 Adam steps of a 3-unit network) as a process killed in
turn while it writes the plot, the arm's cache entry and results.json (the
processes are forks of one that imported TensorFlow once:
`tests.training.loopback.ForkServer`, ~3 s of CPU each instead of ~9), then
checks what is left and what the next run reads back. A cache entry torn
by a writer that was not atomic (an older kdl, a copy tool) is simulated
by truncating it: the real reader (`kdl.training.cached_run`) rejects it by
its hash, says so and recomputes.
"""

import json
import signal

import numpy as np

from kdl.training import atomic
from tests.recipes import recipe_testing
from tests.training import loopback

FLAGS = ["--smoke", "--parts=sin"]


def _killed_run(server, out, kill, *args):
    """The recipe as a process of its own (forked by `server`), killed
    writing the file named `kill`."""
    proc = server.start(
        [recipe_testing.recipe_path("basics"), *FLAGS, f"--output_dir={out}",
         *args],
        {atomic.KILL_BEFORE_RENAME: kill}, recipe_testing.ROOT,
    )  # fmt: skip
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, output[-3000:]


def _run(out, **overrides):
    """The recipe in this process, to the end."""
    module = recipe_testing.load_recipe("basics")
    values = recipe_testing.flags_for(
        module, smoke=True, parts=["sin"], output_dir=str(out), **overrides
    )
    return module.run(values)


def _temporary(out, name):
    """The complete temporary files of `name` a killed writer left."""
    return sorted(p.name for p in out.glob(f".{name}.*.tmp"))


def test_killed_writes_leave_no_torn_file(tmp_path, capsys):
    with loopback.ForkServer() as server:
        _check_killed_writes(server, tmp_path, capsys)


def _check_killed_writes(server, tmp_path, capsys):
    out = tmp_path / "basics"
    first = _run(out)  # seed 0: results.json, sin_fit.png, sin/result.json
    old_results = (out / "results.json").read_bytes()
    old_plot = (out / "sin_fit.png").read_bytes()

    # Seed 1 recomputes the arm. Killed writing the plot: the old plot
    # stays whole (a PNG of seed 0); the arm was not finished.
    _killed_run(server, out, "sin_fit.png", "--seed=1")
    assert (out / "sin_fit.png").read_bytes() == old_plot
    assert len(_temporary(out, "sin_fit.png")) == 1
    assert not (out / "sin" / "result.json").exists()

    # Killed writing the arm's cache entry: no entry (the next run
    # recomputes the arm); the new plot is complete.
    _killed_run(server, out, "result.json", "--seed=1")
    assert not (out / "sin" / "result.json").exists()
    assert (out / "sin_fit.png").read_bytes() != old_plot
    assert (out / "sin_fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Killed writing results.json: the old one stays whole; the arm's
    # cache entry is complete and verifies.
    _killed_run(server, out, "results.json", "--seed=1")
    assert (out / "results.json").read_bytes() == old_results
    assert len(_temporary(out, "results.json")) == 1
    entry = (out / "sin" / "result.json").read_text()
    cached = json.loads(entry)["result"]

    # A torn entry (half of it, as a non-atomic writer killed midway
    # leaves it) is detected by the reader, which says so and recomputes
    # the arm: the same numbers as the entry it replaces.
    (out / "sin" / "result.json").write_text(entry[: len(entry) // 2])
    capsys.readouterr()
    results = _run(out, seed=1)
    said = capsys.readouterr().out
    assert "does not match its SHA-256" in said and "recomputing" in said
    np.testing.assert_allclose(
        [results["sin"][k] for k in ("train_mse", "grid_mse")],
        [cached[k] for k in ("train_mse", "grid_mse")],
        rtol=1e-6,
    )
    written = json.loads((out / "results.json").read_text())
    assert written["sin"] == results["sin"]
    assert written["settings"]["seed"] == 1
    assert results["sin"]["train_mse"] != first["sin"]["train_mse"]
    # The killed writers' temporary files are never read: still there.
    assert _temporary(out, "results.json") and _temporary(out, "sin_fit.png")
