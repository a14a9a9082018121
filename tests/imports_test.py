"""kdl uses only public Keras / TF APIs, and its public API imports."""

import pathlib
import re

import kdl
from tests.test_case import TestCase

FORBIDDEN = re.compile(
    r"^\s*(from|import)\s+(keras\.src|tensorflow\.python)\b", re.M
)


class ImportsTest(TestCase):
    def test_no_private_imports(self):
        root = pathlib.Path(kdl.__file__).parent
        offenders = []
        for path in root.rglob("*.py"):
            for match in FORBIDDEN.finditer(path.read_text()):
                offenders.append(f"{path}: {match.group(0).strip()}")
        self.assertEqual(
            offenders, [], "private imports:\n" + "\n".join(offenders)
        )

    def test_forbidden_pattern_catches_private_imports(self):
        self.assertTrue(FORBIDDEN.search("from keras.src.layers import Dense"))
        self.assertTrue(FORBIDDEN.search("import tensorflow.python.ops"))
        self.assertFalse(FORBIDDEN.search("from keras import layers"))

    def test_public_api(self):
        self.assertTrue(kdl.__version__)
        for name in kdl.__all__:
            self.assertTrue(hasattr(kdl, name), name)
        for module in (kdl.layers, kdl.losses, kdl.models, kdl.ops):
            for name in module.__all__:
                self.assertTrue(
                    hasattr(module, name), f"{module.__name__}.{name}"
                )
