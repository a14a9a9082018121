"""The fuzz suite's one Hypothesis profile: fixed seed, few examples.

`derandomize=True` derives every example from the test itself, so a run is
reproducible and a CI failure replays locally; `max_examples` keeps the
whole folder within its CPU budget (about 40 s on one core); the database
is off (nothing is written under `.hypothesis/`). Deadlines are off: an
eager TensorFlow call's time varies with the machine's load.

`KDL_FUZZ_EXAMPLES=200 pytest tests/fuzz` searches longer (still
derandomized), e.g. after changing a layer; the default stays small.
"""

import os

from hypothesis import HealthCheck
from hypothesis import settings

settings.register_profile(
    "kdl-fuzz",
    derandomize=True,
    max_examples=int(os.environ.get("KDL_FUZZ_EXAMPLES", "10")),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.differing_executors,
    ],
)
settings.load_profile("kdl-fuzz")
