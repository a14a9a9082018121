"""kdl.training.provenance: what a published number records."""

import os
import subprocess
import time

import tensorflow as tf

from kdl import training

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def test_provenance_fields():
    clock = training.Clock()
    sum(i * i for i in range(200000))
    time.sleep(0.01)
    prov = training.provenance(
        clock, seeds=[0, 1], argv=[os.path.join(ROOT, "recipes/x.py"), "--a=1"]
    )
    assert prov["command"] == "python recipes/x.py --a=1"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert prov["commit"] == head
    assert isinstance(prov["dirty"], bool)
    assert prov["date_utc"].endswith("Z")
    assert prov["machine"]["cores"] == os.cpu_count()
    assert prov["machine"]["memory_gib"] > 0
    assert prov["versions"]["tensorflow"] == tf.__version__
    assert prov["wall_seconds"] >= 0.01 and prov["cpu_seconds"] > 0
    assert prov["seeds"] == [0, 1]


def test_command_outside_a_script():
    prov = training.provenance(training.Clock(), [0], argv=["-c", "x"])
    assert prov["command"] == "python -c x"


def test_dirty_ignores_run_outputs_but_not_code(tmp_path, monkeypatch):
    import importlib
    import subprocess

    provenance_module = importlib.import_module("kdl.training.provenance")

    repo = tmp_path / "repo"
    for folder in ("kdl/training", "results", "benchmarks/results"):
        (repo / folder).mkdir(parents=True)
    files = {
        "kdl/code.py": "x = 1\n",
        "results/a.json": "{}\n",
        "benchmarks/results/b.json": "{}\n",
    }
    for name, text in files.items():
        (repo / name).write_text(text)

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, check=True,
                       capture_output=True)  # fmt: skip

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    monkeypatch.setattr(provenance_module, "_repo_root", lambda: str(repo))
    assert provenance_module.git_state()["dirty"] is False
    (repo / "results/a.json").write_text('{"a": 1}\n')
    (repo / "benchmarks/results/b.json").write_text('{"b": 1}\n')
    assert provenance_module.git_state()["dirty"] is False
    (repo / "kdl/code.py").write_text("x = 2\n")
    assert provenance_module.git_state()["dirty"] is True
