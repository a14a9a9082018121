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
