"""Writes the README's Results and Benchmarks tables from committed JSON.

    python scripts/report.py           # rewrite the tables in README.md
    python scripts/report.py --check   # exit 1 (with a diff) if they drift

Sources:
- `results/*.json`: written by recipe runs (`--results_json=...`). Each has
  `readme_rows` (list of `{"what", "ours", "paper", "holds"}`, all strings
  formatted by the recipe from its measured values) and `provenance`
  (command, commit, date, machine, versions, wall/CPU seconds, seeds).
- `results/pending.json`: `{recipe: {"what": ..., "reason": ...}}` for rows
  that are not yet regenerated on the current code; they print without any
  number.
- `benchmarks/results/pending.json`: `{benchmark: reason}`, likewise.
- A result's optional `table` (a markdown string, the recipe's `table.md`;
  other types are ignored) is shown
  in full under the `details` markers, titled by its file, so per-model
  rows (mean +- sd over seeds) are in the README too, followed by the
  run's plots: every `results/figures/<name>/*.png` (copied there by the
  run from its `figures` list, `RecipeSetup.publish_figures`).
- `benchmarks/results/*.json`: written by the benchmark scripts. Each has
  `headline` (list of `{"what", "median", "min", "max", "goal", "met"}`),
  `repeats` and `provenance`.

The tables sit between `<!-- report:NAME:start -->` and
`<!-- report:NAME:end -->` markers; nothing else in the README is touched.
"""

import argparse
import difflib
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
# The benchmarks table again, beside the scripts (links are repo-relative).
BENCHMARKS_MD = os.path.join(ROOT, "benchmarks", "RESULTS.md")
HOLDS = {"yes", "no", "partly", "n/a"}


def _load(pattern):
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
        with open(path) as f:
            out.append((os.path.relpath(path, ROOT), json.load(f)))
    return out


def _escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _run_cell(prov, path):
    minutes = prov["wall_seconds"] / 60.0
    cpu = prov["cpu_seconds"] / 60.0
    seeds = ",".join(str(s) for s in prov["seeds"])
    dirty = " (uncommitted changes)" if prov.get("dirty") else ""
    reused = [a for a in prov.get("arm_seconds", []) if a.get("reused")]
    if reused:
        earlier = sum(a.get("wall_seconds", 0) for a in reused) / 60.0
        minutes_text = (
            f"{len(reused)} arm(s) reused from an earlier run "
            f"({earlier:.1f} min wall then); "
        )
    else:
        minutes_text = ""
    return (
        f"`{_escape(prov['command'])}`; {minutes:.1f} min wall, {cpu:.1f} min "
        f"CPU; {minutes_text}seeds {seeds}; "
        f"commit {str(prov['commit'])[:8]}{dirty}; "
        f"[{os.path.basename(path)}]({path})"
    )


def _check_row(path, row, keys):
    missing = [k for k in keys if k not in row]
    if missing:
        raise ValueError(f"{path}: a row lacks {missing}. Received: {row}")


def results_table():
    lines = [
        "| recipe | what | ours | paper / lecture | paper's ordering holds? "
        "| run |",
        "|---|---|---|---|---|---|",
    ]
    for path, data in _load("results/*.json"):
        if os.path.basename(path) == "pending.json":
            continue
        if data.get("smoke"):
            raise ValueError(f"{path} is a --smoke run; not publishable.")
        prov = data["provenance"]
        recipe = os.path.splitext(os.path.basename(path))[0]
        for row in data["readme_rows"]:
            _check_row(path, row, ("what", "ours", "paper", "holds"))
            if row["holds"] not in HOLDS:
                raise ValueError(
                    f"{path}: holds must be one of {sorted(HOLDS)}. "
                    f"Received: holds={row['holds']!r}"
                )
            lines.append(
                f"| {recipe} | {_escape(row['what'])} | "
                f"{_escape(row['ours'])} | {_escape(row['paper'])} | "
                f"{row['holds']} | {_run_cell(prov, path)} |"
            )
    pending_path = os.path.join(ROOT, "results", "pending.json")
    if os.path.exists(pending_path):
        with open(pending_path) as f:
            pending = json.load(f)
        for recipe, item in sorted(pending.items()):
            lines.append(
                f"| {recipe} | {_escape(item['what'])} | not yet regenerated "
                f"| - | - | {_escape(item['reason'])} |"
            )
    return "\n".join(lines)


def _fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def benchmarks_table():
    lines = [
        "| benchmark | what | median [min, max] | goal | met? | run |",
        "|---|---|---|---|---|---|",
    ]
    for path, data in _load("benchmarks/results/*.json"):
        if os.path.basename(path) == "pending.json":
            continue
        prov = data["provenance"]
        name = os.path.splitext(os.path.basename(path))[0]
        for row in data["headline"]:
            _check_row(
                path, row, ("what", "median", "min", "max", "goal", "met")
            )
            met = {True: "yes", False: "no", None: "-"}[row["met"]]
            lines.append(
                f"| {name} | {_escape(row['what'])} | {_fmt(row['median'])} "
                f"[{_fmt(row['min'])}, {_fmt(row['max'])}] | "
                f"{_escape(row['goal'] or '-')} | {met} | "
                f"{data['repeats']} interleaved repeats; "
                f"{_run_cell(prov, path)} |"
            )
    pending_path = os.path.join(ROOT, "benchmarks", "results", "pending.json")
    if os.path.exists(pending_path):
        with open(pending_path) as f:
            pending = json.load(f)
        for name, reason in sorted(pending.items()):
            lines.append(
                f"| {name} | - | not yet regenerated | - | - | "
                f"{_escape(reason)} |"
            )
    return "\n".join(lines)


def figures(stem):
    """The run's plots, `results/figures/<stem>/*.png` (README-relative)."""
    folder = os.path.join(ROOT, "results", "figures", stem)
    return [
        os.path.relpath(p, ROOT).replace(os.sep, "/")
        for p in sorted(glob.glob(os.path.join(folder, "*.png")))
    ]


def details_tables():
    """Every result's full `table` (markdown) and plots, under a heading
    per file (a run without a markdown table shows its plots alone)."""
    parts = []
    for path, data in _load("results/*.json"):
        table = data.get("table")
        stem = os.path.splitext(os.path.basename(path))[0]
        plots = figures(stem)
        if stem == "pending" or not (isinstance(table, str) or plots):
            continue
        # Without a table, the first plot follows the heading line directly.
        body = f"{table.strip()}\n" if isinstance(table, str) else ""
        prov = data["provenance"]
        seeds = ",".join(str(s) for s in prov["seeds"])
        parts.append(
            f"#### {stem}\n\n"
            f"From [{path}]({path}) (seeds {seeds}, commit "
            f"{str(prov['commit'])[:8]}).\n\n{body}"
            + "".join(f"\n![{stem}: {name}]({name})\n" for name in plots)[
                0 if body else 1 :
            ]
        )
    return "\n".join(parts) if parts else "(no detailed tables yet)"


TABLES = {
    "results": results_table,
    "details": details_tables,
    "benchmarks": benchmarks_table,
}


def render(readme_text, names=None):
    """The text with every marked table (or those `names`) regenerated."""
    for name in names or TABLES:
        make = TABLES[name]
        start = f"<!-- report:{name}:start -->"
        end = f"<!-- report:{name}:end -->"
        if start not in readme_text or end not in readme_text:
            raise ValueError(f"README.md lacks the markers {start} / {end}")
        head, rest = readme_text.split(start, 1)
        _, tail = rest.split(end, 1)
        readme_text = f"{head}{start}\n{make()}\n{end}{tail}"
    return readme_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if README.md differs from the generated tables",
    )
    parser.add_argument("--readme", default=README)
    args = parser.parse_args(argv)
    files = [(args.readme, None)]
    if args.readme == README:
        files.append((BENCHMARKS_MD, ["benchmarks"]))
    status = 0
    for path, names in files:
        status = max(status, _update(path, names, args.check))
    return status


def _update(path, names, check):
    """Regenerates the tables of `path`; with `check`, only compares."""
    name = os.path.relpath(path, ROOT)
    with open(path) as f:
        current = f.read()
    wanted = render(current, names)
    if check:
        if wanted != current:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(True),
                    wanted.splitlines(True),
                    name,
                    "generated",
                )
            )
            print(f"{name} drifted from results/: run scripts/report.py")
            return 1
        print(f"{name} matches results/ and benchmarks/results/.")
        return 0
    if wanted != current:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(wanted)
        os.replace(tmp, path)
        print(f"{name} tables rewritten.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
