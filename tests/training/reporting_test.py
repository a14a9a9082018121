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


def test_markdown_table_plain_columns_and_tuple_rows():
    rows = [{"model": "SRN", "ppl": 129.04}, ("LSTM", 115.2)]
    table = training.markdown_table(rows, ["model", ("test ppl", "ppl", ".1f")])
    assert table.splitlines() == [
        "| model | test ppl |",
        "|---|---|",
        "| SRN | 129.0 |",
        "| LSTM | 115.2 |",
    ]


def test_save_table_with_a_title(tmp_path, capsys):
    path = str(tmp_path / "t.md")
    table = training.save_table([{"m": "SRN"}], ["m"], path, title="Test ppl")
    assert table == "| m |\n|---|\n| SRN |"
    assert open(path).read() == f"Test ppl\n\n{table}\n"
    assert capsys.readouterr().out == f"Test ppl\n\n{table}\n"


def test_mean_sd_scales_and_skips_none():
    assert training.mean_sd([0.81, 0.83, None], ".1f", scale=100) == (
        "82.0 ± 1.4"
    )
    assert training.mean_sd([None]) == "-"


def test_reached_mean_sd_counts_the_seeds_that_got_there():
    assert training.reached_mean_sd([100, None, 300]) == "200 ± 141 (2/3)"
    assert training.reached_mean_sd([50], ".1f") == "50.0 (1/1)"
    assert training.reached_mean_sd(v for v in [None, None]) == "- (0/2)"


def test_per_seed_from_lists_and_seed_dicts():
    runs = {
        "lstm": [{"acc": 0.5, "curve": [1, 2]}, {"acc": 0.7, "curve": [3]}],
        "bnlstm": {0: {"acc": 0.9, "curve": [4]}},  # seed -> result
    }
    assert training.per_seed(runs, "acc") == {
        "lstm": [0.5, 0.7],
        "bnlstm": [0.9],
    }
    fields = {"last": lambda r: r["curve"][-1], "acc": "acc"}
    out = training.per_seed(runs, fields)
    assert out == {
        "lstm": {"last": [2, 3], "acc": [0.5, 0.7]},
        "bnlstm": {"last": [4], "acc": [0.9]},
    }
    assert list(out["lstm"]) == ["last", "acc"]
    with pytest.raises(KeyError):
        training.per_seed(runs, "missing")


def test_ordering_holds_compares_means_over_seeds():
    errors = {"dbn": [1.0, 1.4], "none": [2.0, 2.6], "ae": 1.5}
    assert training.ordering_holds(errors, ["dbn", "ae", "none"]) == "yes"
    # dbn's mean (2.0) is above ae's: one pair of three out of order.
    errors["dbn"] = [1.0, 3.0]
    assert training.ordering_holds(errors, ["dbn", "ae", "none"]) == "partly"


def test_curves_given_as_points_per_seed(tmp_path, monkeypatch):
    drawn, legends = [], []
    plt = training.pyplot()
    real_subplots = plt.subplots

    def subplots(*args, **kwargs):
        fig, ax = real_subplots(*args, **kwargs)
        real_plot, real_legend = ax.plot, ax.legend
        ax.plot = lambda xs, ys, **kw: (
            drawn.append((xs, ys, kw["label"])) or real_plot(xs, ys, **kw)
        )
        ax.legend = lambda *a, **kw: legends.append(1) or real_legend(*a, **kw)
        return fig, ax

    monkeypatch.setattr(plt, "subplots", subplots)
    # Epochs read back from JSON (text keys); the second seed stopped early.
    seeds = [{"10": 0.7, "5": 0.6}, {"5": 0.8}]
    png = training.plot_curves({"NAT": seeds}, str(tmp_path / "p.png"))
    assert open(png, "rb").read(8) == PNG
    ((xs, ys, label),) = drawn
    np.testing.assert_array_equal(xs, [5, 10])
    np.testing.assert_allclose(ys, [0.7, 0.7])  # mean of the seeds there
    assert label == "NAT (n=2)" and legends == [1]


def test_filter_grid_is_near_square(tmp_path, monkeypatch):
    from kdl.training import reporting

    kernel = np.random.RandomState(0).rand(12, 150)  # 150 units of 3x4
    path = training.save_filter_grid(
        kernel, (3, 4), str(tmp_path / "f.png"), title="filters"
    )
    assert open(path, "rb").read(8) == PNG
    grids = []
    monkeypatch.setattr(
        reporting, "save_image_grid", lambda rows, *a, **kw: grids.append(rows)
    )
    training.save_filter_grid(kernel, (3, 4), "unused.png", max_filters=10)
    (rows,) = grids
    assert [len(r) for r in rows] == [4, 4, 2]  # ceil(sqrt(10)) per row
    np.testing.assert_array_equal(rows[0][1], kernel[:, 1].reshape(3, 4))
    with pytest.raises(ValueError, match="kernel"):
        training.save_filter_grid(kernel[0], (3, 4), "unused.png")
