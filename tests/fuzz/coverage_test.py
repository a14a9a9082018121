"""Every public layer, loss and op has a fuzz case.

A name in the `__all__` of `kdl.layers`, `kdl.losses` or `kdl.ops` that no
test in this folder marks with `@fuzzes(name)` fails here, so a new
component cannot ship without one.
"""

import kdl
from tests.fuzz import layers_test  # noqa: F401 (registers its cases)
from tests.fuzz import losses_test  # noqa: F401
from tests.fuzz import ops_test  # noqa: F401
from tests.fuzz.fuzzing import FUZZED
from tests.test_case import TestCase


class FuzzCoverageTest(TestCase):
    def test_every_public_name_has_a_fuzz_case(self):
        public = {
            name
            for module in (kdl.layers, kdl.losses, kdl.ops)
            for name in module.__all__
        }
        self.assertEqual(sorted(public - FUZZED), [], "no fuzz case")
        self.assertEqual(sorted(FUZZED - public), [], "stale fuzz cases")
