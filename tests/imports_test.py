"""kdl's public API imports (private imports: `no_private_api_test.py`)."""

import kdl
from tests.test_case import TestCase


class ImportsTest(TestCase):
    def test_public_api(self):
        self.assertTrue(kdl.__version__)
        for name in kdl.__all__:
            self.assertTrue(hasattr(kdl, name), name)
        for module in (
            kdl.constraints,
            kdl.layers,
            kdl.losses,
            kdl.models,
            kdl.ops,
            kdl.optimizers,
        ):
            for name in module.__all__:
                self.assertTrue(
                    hasattr(module, name), f"{module.__name__}.{name}"
                )
