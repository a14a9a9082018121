"""kdl.training.reporting: tables, mean +- sd, curves, image grids."""

import os

import numpy as np
import pytest

from kdl import training

PNG = b"\x89PNG\r\n\x1a\n"
REPORT = [("model", "m"), ("test ppl", "ppl", ".1f")]


def test_markdown_table_formats_and_missing_values():
    table = training.markdown_table(
        [{"m": "SRN", "ppl": 200.123}, {"m": "LSTM"}],
        [
            ("model", "m"),
            ("test ppl", "ppl", ".1f"),
            ("twice", lambda r: r.get("ppl", 0) * 2, lambda v: f"{v:.0f}"),
        ],
    )
    assert table.splitlines() == [
        "| model | test ppl | twice |",
        "|---|---|---|",
        "| SRN | 200.1 | 400 |",
        "| LSTM | - | 0 |",
    ]


def test_save_table_writes_and_prints(tmp_path, capsys):
    path = str(tmp_path / "sub" / "table.md")
    table = training.save_table([{"m": "SRN", "ppl": 2.25}], REPORT, path)
    assert open(path).read() == table + "\n"
    assert table.splitlines()[-1] == "| SRN | 2.2 |"
    assert table in capsys.readouterr().out
    training.save_table([], REPORT, path, echo=False)
    assert capsys.readouterr().out == ""
    assert open(path).read().count("\n") == 2


def test_mean_sd():
    assert training.mean_sd([1.0, 2.0, 3.0], ".1f") == "2.0 ± 1.0"
    assert training.mean_sd([0.5], ".2f") == "0.50"
    assert training.mean_sd([]) == "-"


def test_curves_history_and_seed_bands(tmp_path):
    png = training.plot_curves(
        {"x": [1, 2, 3], "seeds": [[3, 2, 1], [4, 3, 2]]},
        str(tmp_path / "c.png"),
        logy=True,
    )
    assert open(png, "rb").read(8) == PNG
    history = {"loss": [2, 1], "val_loss": [3, 2]}
    assert os.path.exists(
        training.plot_history(history, str(tmp_path / "h.png"))
    )
    with pytest.raises(ValueError, match="accuracy"):
        training.plot_history(history, str(tmp_path / "h.png"), ("accuracy",))


def test_curve_given_as_points(tmp_path, monkeypatch):
    drawn = []
    plt = training.pyplot()
    real_subplots = plt.subplots

    def subplots(*args, **kwargs):
        fig, ax = real_subplots(*args, **kwargs)
        real_plot = ax.plot
        ax.plot = lambda xs, ys, **kw: (
            drawn.append((xs, ys)) or real_plot(xs, ys, **kw)
        )
        return fig, ax

    monkeypatch.setattr(plt, "subplots", subplots)
    png = training.plot_curves(
        {"probe": {"10": 0.5, "0": 0.1, "2": 0.3}}, str(tmp_path / "p.png")
    )
    assert open(png, "rb").read(8) == PNG
    ((xs, ys),) = drawn
    np.testing.assert_array_equal(xs, [0, 2, 10])
    np.testing.assert_array_equal(ys, [0.1, 0.3, 0.5])


def test_image_grid(tmp_path):
    rng = np.random.RandomState(0)
    path = training.save_image_grid(
        [rng.rand(3, 8, 8), list(rng.rand(2, 8, 8, 1)), [rng.rand(8, 8, 3)]],
        str(tmp_path / "g.png"),
        row_labels=["a", "b", "c"],
        title="t",
    )
    assert open(path, "rb").read(8) == PNG
    with pytest.raises(ValueError, match="shape"):
        training.save_image_grid([[rng.rand(8)]], str(tmp_path / "bad.png"))
    with pytest.raises(ValueError, match="normalize"):
        training.save_image_grid(
            rng.rand(2, 4, 4), str(tmp_path / "n.png"), normalize="minmax"
        )


def test_heatmap(tmp_path):
    weights = np.random.RandomState(0).dirichlet(np.ones(4), size=3)
    path = training.plot_heatmap(
        weights,
        str(tmp_path / "a.png"),
        xticklabels=["the", "house", "is", "."],
        yticklabels=["la", "casa", "[end]"],
        xlabel="source",
        ylabel="output",
        title="the house is.",
    )
    assert open(path, "rb").read(8) == PNG
    with pytest.raises(ValueError, match="2-D"):
        training.plot_heatmap(weights[0], str(tmp_path / "b.png"))


def test_claims_hold():
    assert training.claims_hold([True, 1]) == "yes"
    assert training.claims_hold([True, False]) == "partly"
    assert training.claims_hold(v < 0 for v in (1, 2)) == "no"
    assert training.claims_hold([]) == "n/a"


def test_ordering_holds_compares_every_pair():
    order = ["dbn", "ae", "shallow", "supervised", "none"]  # ascending
    errors = {"dbn": 1.2, "ae": 1.4, "shallow": 1.9, "supervised": 2.0}
    assert training.ordering_holds({**errors, "none": 2.4}, order) == "yes"
    # One swapped pair of 10 (shallow vs supervised): partly.
    swapped = {**errors, "shallow": 2.1, "none": 2.4}
    assert training.ordering_holds(swapped, order) == "partly"
    reversed_ = {name: -e for name, e in errors.items()}
    assert training.ordering_holds(reversed_, order) == "no"
    # 4 of 6 pairs: partly; 3 of 6 is not more than half; a tie is out
    # of order.
    four = {"dbn": 1.0, "ae": 0.5, "shallow": 2.0, "supervised": 1.5}
    assert training.ordering_holds(four, order) == "partly"
    three = {"dbn": 3, "ae": 2, "shallow": 1, "supervised": 4}
    assert training.ordering_holds(three, order) == "no"
    assert training.ordering_holds({"dbn": 1, "ae": 1}, order) == "no"
    # Names missing on either side are left out; < 2 names: n/a.
    assert training.ordering_holds({"dbn": 1, "x": 0}, order) == "n/a"
    assert training.ordering_holds({"dbn": 1, "none": 2}, order) == "yes"


def test_plot_curves_takes_seeds_of_unequal_length(tmp_path):
    # Runs stopped early by a schedule: the band covers the seeds left.
    path = training.plot_curves(
        {"LSTM": [[5.0, 4.0, 3.5], [5.2, 4.1]], "SRN": [[6.0, 5.0]]},
        str(tmp_path / "curves.png"),
    )
    assert os.path.getsize(path) > 0


def test_seed_summary():
    runs = [{"err": 0.1, "x": 1}, {"err": 0.3, "x": 2}]
    out = training.seed_summary(runs, ["err"], label="a")
    assert out["err"] == pytest.approx(0.2)
    assert out["err_sd"] == pytest.approx(np.std([0.1, 0.3], ddof=1))
    assert out["label"] == "a" and out["runs"] == runs
    one = training.seed_summary(runs[:1], ["err", "x"])
    assert one["err_sd"] == 0.0 and one["x"] == 1.0
    with pytest.raises(ValueError, match="`runs` must not be empty"):
        training.seed_summary([], ["err"])


def test_elementwise_holds():
    values = {"a": [3, 1, None], "b": [2, 2, 5], "c": [1, 0, 1]}
    assert training.elementwise_holds(values, "a", ["b"]) == "partly"
    assert training.elementwise_holds(values, "a", ["c"]) == "yes"
    assert training.elementwise_holds(values, "c", ["b"]) == "no"
    assert training.elementwise_holds(values, "a", ["missing"]) == "n/a"
