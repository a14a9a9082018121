"""Every recipe runs from its command line, on its real default data.

The in-process smoke tests (one file per recipe) call `run()` on tiny data;
here each recipe runs as `python recipes/<name>.py --smoke ...` would: its
`__main__` block, absl's parsing of the command line and its default
dataset (offline). All runs share one Python process
(tests/recipes/cli_driver.py), one TensorFlow start-up instead of one per
recipe; each run's outputs are then checked on their own (a subtest each).
Three recipes run from their command lines in other tests instead, at the
same --smoke sizes on the same default data: `basics.py --smoke
--parts=sin` (kill_during_write_test.py, a subprocess of its own) and
`scrn_lm.py` / `lenet.py` (multi_worker_recipes_test.py, through this
driver on two loopback workers); running them here again would only cost
time.
"""

import json
import os
import subprocess
import sys

import kdl
from tests.recipes import recipe_testing

DRIVER = os.path.join(os.path.dirname(__file__), "cli_driver.py")


def check_batchnorm(out, results):
    assert set(results["ghost"]) == {"small_bn", "epochs", "steps"}
    assert set(results["ghost"]["epochs"]) == {"bn", "ghost16"}  # --smoke
    assert (out / "ghost.png").exists() and "renorm" not in results


def check_bn_lstm(out, results):
    assert set(results["models"]) == {"bnlstm"}
    assert results["settings"]["units"] == 4


def check_char_rnn(out, results):
    assert results["corpus"] == "shakespeare" and len(results["samples"]) == 2
    assert results["readme_rows"][0]["what"].startswith("LSTM-16, shakespeare")


def check_glo(out, results):
    copy = json.loads((out / "copy.json").read_text())
    assert copy == results
    assert list(results["arms"]) == ["l2_pca"] and results["dcgan"] == []
    assert "recipes/glo.py --smoke" in results["provenance"]["command"]


def check_nat(out, results):
    assert "recipes/nat.py --smoke" in results["provenance"]["command"]
    assert (out / "random_seed0" / "result.json").exists()


def check_nmt_attention(out, results):
    assert set(results["models"]) == {"attention"}
    assert results["smoke"] and results["settings"]["units"] == 16
    assert (out / "alignment_0.png").exists()
    assert results["provenance"]["seeds"] == [4]


def check_perceptron(out, results):
    assert results["readme_rows"][0]["ours"].startswith("4/4;")
    assert "--parts=xor" in results["provenance"]["command"]


def check_pretraining(out, results):
    assert set(results["table"]["digits"]) == {"dbn", "shallow"}
    assert results["readme_rows"][0]["what"].endswith("DBN / shallow")


def check_style_transfer(out, results):
    assert results["features"] == "random" and results["smoke"]
    assert results["provenance"]["command"].startswith(
        "python recipes/style_transfer.py --smoke"
    )


# name: (arguments besides --smoke and --output_dir, check)
RUNS = {
    # The ghost part: 5 arms (renorm: 8, the in-process test runs both).
    "batchnorm": (["--parts=ghost"], check_batchnorm),
    "bn_lstm": (["--models=bnlstm", "--seeds=3"], check_bn_lstm),
    "char_rnn": (["--temperatures=1.0"], check_char_rnn),
    "glo": (["--losses=l2", "--inits=pca", "--nogan",
             "--results_json={out}/copy.json"], check_glo),
    "nat": (["--methods=random"], check_nat),
    "nmt_attention": (["--dataset=dates", "--models=attention",
                       "--heatmaps=1", "--seeds=4"], check_nmt_attention),
    "perceptron": (["--parts=xor"], check_perceptron),
    "pretraining": (["--seeds=0", "--datasets=digits",
                     "--methods=dbn,shallow"], check_pretraining),
    "style_transfer": ([], check_style_transfer),
}  # fmt: skip


def test_every_recipe_runs_from_its_command_line(tmp_path, subtests):
    kdl.datasets.load_images("mnist_5k")  # skips nothing: must be offline
    runs = []
    for name, (args, _) in RUNS.items():
        out = tmp_path / name
        args = [a.format(out=out) for a in args]
        runs.append([name, ["--smoke", f"--output_dir={out}", *args]])
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    report_path = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, DRIVER, str(tmp_path / "runs.json"), report_path],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        cwd=recipe_testing.ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = {r["name"]: r for r in json.loads(report_path.read_text())}
    print({name: r["seconds"] for name, r in report.items()})  # with -s
    assert list(report) == list(RUNS)
    for name, (_, check) in RUNS.items():
        with subtests.test(recipe=name):
            run = report[name]
            assert run["returncode"] == 0, run["error"] or done.stderr[-3000:]
            out = tmp_path / name
            check(out, json.loads((out / "results.json").read_text()))


def test_every_recipe_has_a_command_line_run():
    # Here, or in the tests named in the module docstring.
    elsewhere = {"basics", "lenet", "scrn_lm"}
    folder = os.path.join(recipe_testing.ROOT, "recipes")
    recipes = {n[:-3] for n in os.listdir(folder) if n.endswith(".py")}
    assert set(RUNS) | elsewhere == recipes - {"__init__"}
    assert not set(RUNS) & elsewhere
