"""kdl uses only public Keras / TF APIs, and its public API imports."""

import pathlib
import re

import kdl

FORBIDDEN = re.compile(
    r"^\s*(from|import)\s+(keras\.src|tensorflow\.python)\b", re.M
)


def test_no_private_imports():
    root = pathlib.Path(kdl.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for match in FORBIDDEN.finditer(path.read_text()):
            offenders.append(f"{path}: {match.group(0).strip()}")
    assert not offenders, "private imports:\n" + "\n".join(offenders)


def test_forbidden_pattern_catches_private_imports():
    assert FORBIDDEN.search("from keras.src.layers import Dense")
    assert FORBIDDEN.search("import tensorflow.python.ops")
    assert not FORBIDDEN.search("from keras import layers")


def test_public_api():
    assert kdl.__version__
    for name in kdl.__all__:
        assert hasattr(kdl, name), name
    for module in (kdl.layers, kdl.losses, kdl.models, kdl.ops):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
