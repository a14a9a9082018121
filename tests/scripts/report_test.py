"""scripts/report.py: the README tables are generated from results/."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "report.py")


def _module():
    spec = importlib.util.spec_from_file_location("report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(readme):
    return subprocess.run(
        [sys.executable, SCRIPT, "--check", f"--readme={readme}"],
        capture_output=True,
        text=True,
    )


def test_readme_matches_results():
    done = _check(os.path.join(ROOT, "README.md"))
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.parametrize("table", ["results", "benchmarks"])
def test_check_fails_after_any_edit_of_a_table(tmp_path, table):
    text = open(os.path.join(ROOT, "README.md")).read()
    start = text.index(f"<!-- report:{table}:start -->")
    end = text.index(f"<!-- report:{table}:end -->")
    region = text[start:end]
    rows = region.splitlines()[3:]  # marker, header, rule
    # Edit the first digit of a data row (or, with no number, one letter).
    target = (
        next(
            (
                m.start()
                for m in re.finditer(r"\d", region)
                if region[: m.start()].count("\n") >= 3
            ),
            None,
        )
        if rows
        else None
    )
    if target is None:
        target = region.index("|", region.index("|---|") + 5) + 3
    old = region[target]
    new = "7" if old != "7" else "8"
    edited = text[: start + target] + new + text[start + target + 1 :]
    readme = tmp_path / "README.md"
    readme.write_text(edited)
    done = _check(str(readme))
    assert done.returncode == 1
    assert "drifted" in done.stdout


def test_rows_are_validated(tmp_path, monkeypatch):
    report = _module()
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(os.path.join(ROOT, "results", "pending.json"), results)
    row = {"what": "w", "ours": "1", "paper": "2", "holds": "maybe"}
    prov = {
        "command": "python x.py",
        "commit": "abc",
        "wall_seconds": 60,
        "cpu_seconds": 60,
        "seeds": [0],
    }
    (results / "x.json").write_text(
        json.dumps({"readme_rows": [row], "provenance": prov})
    )
    monkeypatch.setattr(report, "ROOT", str(tmp_path))
    with pytest.raises(ValueError, match="holds='maybe'"):
        report.results_table()
    row["holds"] = "yes"
    (results / "x.json").write_text(
        json.dumps({"readme_rows": [row], "provenance": prov, "smoke": True})
    )
    with pytest.raises(ValueError, match="smoke"):
        report.results_table()
    (results / "x.json").write_text(
        json.dumps({"readme_rows": [row], "provenance": prov})
    )
    table = report.results_table()
    assert "| x | w | 1 | 2 | yes | `python x.py`; 1.0 min wall" in table
    assert report.details_tables() == "(no detailed tables yet)"
    (results / "x.json").write_text(
        json.dumps(
            {"readme_rows": [row], "provenance": prov, "table": "| a |\n|-|"}
        )
    )
    details = report.details_tables()
    assert details.startswith("#### x\n\nFrom [results/x.json]")
    assert details.endswith("| a |\n|-|\n")
    figures = results / "figures" / "x"
    figures.mkdir(parents=True)
    for name in ("b.png", "a.png", "notes.txt"):
        (figures / name).write_bytes(b"")
    details = report.details_tables()
    assert details.endswith(
        "| a |\n|-|\n\n![x: results/figures/x/a.png](results/figures/x/a.png)"
        "\n\n![x: results/figures/x/b.png](results/figures/x/b.png)\n"
    )
