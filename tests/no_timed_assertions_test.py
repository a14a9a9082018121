"""No test asserts on a duration: on a shared 2-core machine wall time says
more about the machine's load than about the code, so a timed assertion
fails at random (speed claims live in benchmarks/, as ratios).

Every `.py` file under tests/ is parsed (`ast`) and every assertion (an
`assert` statement, or a call of a method or function named `assert...`)
is checked for a clock reading (`time.time()`, `time.perf_counter()`,
`time.monotonic()`, `time.process_time()` and their `_ns` forms), directly
or through a variable of the same function assigned from one. A property
such as "the second run reuses every finished arm" is asserted on what
happened (messages, files, a patched training call), never on how long it
took.
"""

import ast
import pathlib
import textwrap

from tests.test_case import TestCase

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLOCKS = frozenset(
    {
        "time",
        "time_ns",
        "perf_counter",
        "perf_counter_ns",
        "monotonic",
        "monotonic_ns",
        "process_time",
        "process_time_ns",
    }
)


def _reads_clock(node):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            name = f.attr if isinstance(f, ast.Attribute) else None
            if isinstance(f, ast.Name):
                name = f.id
            if name in CLOCKS:
                return True
    return False


def _is_assertion(node):
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else None
        if isinstance(f, ast.Name):
            name = f.id
        return bool(name) and name.startswith("assert")
    return False


def timed_assertions(source):
    """`(line, text)` of each assertion in `source` that reads a clock."""
    tree = ast.parse(source)
    found = []
    scopes = [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    for scope in scopes:
        # Names of this scope assigned from a clock reading.
        timed = set()
        for node in ast.walk(scope):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                value = node.value
                if value is not None and _reads_clock(value):
                    targets = getattr(node, "targets", None) or [node.target]
                    for target in targets:
                        for sub in ast.walk(target):
                            if isinstance(sub, ast.Name):
                                timed.add(sub.id)
        for node in ast.walk(scope):
            if not _is_assertion(node):
                continue
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            if _reads_clock(node) or names & timed:
                found.append((node.lineno, ast.unparse(node)))
    return sorted(set(found))


class NoTimedAssertionsTest(TestCase):
    def test_no_test_asserts_on_a_duration(self):
        problems = []
        for path in sorted((ROOT / "tests").rglob("*.py")):
            for line, text in timed_assertions(path.read_text()):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {text}")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_the_check_finds_timed_assertions(self):
        source = textwrap.dedent(
            """
            import time
            from time import perf_counter

            def test_a(self):
                start = time.perf_counter()
                run()
                assert time.perf_counter() - start < 10
                self.assertLess(time.time() - start, 2)
                elapsed = perf_counter() - start
                assert elapsed < 5
                assert result["seconds_per_epoch"] > 0  # a value, not a clock
                deadline = time.monotonic() + 5  # a bound, not an assertion
            """
        )
        lines = [line for line, _ in timed_assertions(source)]
        self.assertEqual(lines, [8, 9, 11])
