"""Dataset caches are read back only when their SHA-256 checksums verify."""

import json
import os

import numpy as np

from kdl import datasets
from kdl.datasets import sources
from tests.datasets import text_data_test


def _entry(folder, builds):
    """A cache entry of two files through `checked_cache`; `builds` counts
    the (re)builds."""

    def build():
        builds.append(1)
        folder.mkdir(parents=True, exist_ok=True)
        sources.save_npy(folder / "a.npy", np.arange(5))
        sources.save_json(folder / "b.json", {"n": 5})
        return "built"

    def read():
        with open(folder / "b.json") as f:
            return int(np.load(folder / "a.npy").sum()) + json.load(f)["n"]

    return sources.checked_cache(folder, ["a.npy", "b.json"], read, build)


def test_checked_cache_rebuilds_torn_edited_or_unfinished(tmp_path, capsys):
    folder, builds = tmp_path / "entry", []
    assert _entry(folder, builds) == "built"
    assert _entry(folder, builds) == 15  # verified: read, not rebuilt
    assert len(builds) == 1 and capsys.readouterr().out == ""
    # Torn: a truncated file (as a non-atomic writer killed midway).
    data = (folder / "a.npy").read_bytes()
    (folder / "a.npy").write_bytes(data[: len(data) // 2])
    assert _entry(folder, builds) == "built"
    said = capsys.readouterr().out
    assert str(folder) in said
    assert "a.npy does not match its recorded SHA-256" in said
    assert "rebuilding" in said
    # Edited: valid JSON, other content.
    (folder / "b.json").write_text('{"n": 6}')
    assert _entry(folder, builds) == "built"
    assert "b.json does not match" in capsys.readouterr().out
    # Unfinished (its writer died before the checksums), or an entry
    # written before kdl recorded checksums.
    os.remove(folder / sources.CHECKSUMS)
    assert _entry(folder, builds) == "built"
    assert "no checksums.json" in capsys.readouterr().out
    assert _entry(folder, builds) == 15 and len(builds) == 4


def test_damaged_text_cache_is_rebuilt_from_the_corpus(tmp_path, capsys):
    folder = text_data_test.write_austen(tmp_path / "aus")
    load = dict(path=folder, vocab_size=12, data_dir=tmp_path / "cache")
    first = datasets.load_text("austen", **load)
    [ids] = (tmp_path / "cache" / "text").glob("*/ids.npy")
    # Damaged without changing its length (a flipped id): only the
    # checksum can tell.
    damaged = np.load(ids)
    damaged[3] += 1
    np.save(ids, damaged)
    capsys.readouterr()
    again = datasets.load_text("austen", **load)
    assert "ids.npy does not match its recorded SHA-256" in (
        capsys.readouterr().out
    )
    np.testing.assert_array_equal(again.train, first.train)
    np.testing.assert_array_equal(again.test, first.test)
