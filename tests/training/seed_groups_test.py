"""kdl.training.seed_groups: per-seed dots, mean +- sd tables, verdicts."""

import numpy as np
import pytest

from kdl import training

PNG = b"\x89PNG\r\n\x1a\n"
GROUPS = {
    "batch 2": {"BN": [0.5, 0.6, 0.7], "renorm": [0.8, 0.82, None]},
    "batch 4": {"BN": [0.75], "none": [0.8, 0.82]},
}


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "sub" / "acc.png"
    out = training.plot_seed_points(GROUPS, str(path), ylabel="accuracy")
    assert out == str(path)
    assert path.read_bytes().startswith(PNG)
    arrays = {"gap": {"BN": np.array([-0.1, -0.2]), "ghost": np.array([0.0])}}
    training.plot_seed_points(arrays, str(path))  # NumPy values too
    assert path.read_bytes().startswith(PNG)
    with pytest.raises(ValueError, match="groups"):
        training.plot_seed_points({}, str(path))


def test_table_rows_columns_and_missing_arms(tmp_path, capsys):
    path = tmp_path / "table.md"
    table = training.save_seed_table(GROUPS, str(path), ".2f")
    assert table.splitlines() == [
        "|  | BN | renorm | none |",
        "|---|---|---|---|",
        "| batch 2 | 0.60 ± 0.10 | 0.81 ± 0.01 | - |",
        "| batch 4 | 0.75 | - | 0.81 ± 0.01 |",
    ]
    assert path.read_text() == table + "\n"
    assert table in capsys.readouterr().out


@pytest.mark.parametrize(
    "better, worse, verdict",
    [
        ([0.80, 0.81, 0.79], [0.50, 0.55, 0.45], "yes"),  # lead 0.3 > sd
        ([0.60, 0.70, 0.50], [0.50, 0.55, 0.45], "partly"),  # 0.05 < 0.1
        ([0.50, 0.55, 0.45], [0.60, 0.70, 0.50], "no"),
        ([0.5], [0.4], "yes"),  # one seed: sd 0
        ([0.4], [0.4], "no"),
    ],
)
def test_lead_verdict(better, worse, verdict):
    assert training.lead_verdict(better, worse) == verdict


def test_lead_verdict_needs_values():
    with pytest.raises(ValueError, match="better"):
        training.lead_verdict([], [0.5])


@pytest.mark.parametrize(
    "worse, verdict",
    [
        (["low"], "yes"),
        (["low", "lower"], "yes"),
        (["low", "high"], "partly"),
        (["high", "higher"], "no"),
        (["close"], "partly"),
        (["missing"], "n/a"),
        ([], "n/a"),
    ],
)
def test_lead_verdicts_combine_the_pairs(worse, verdict):
    values = {
        "arm": [0.80, 0.82, 0.81],
        "low": [0.50, 0.55, 0.52],
        "lower": [0.1, 0.2, 0.3],
        "close": [0.80, 0.81, 0.79],
        "high": [0.90, 0.91, 0.92],
        "higher": [0.95, 0.96, 0.97],
    }
    assert training.lead_verdicts(values, "arm", worse) == verdict
    assert training.lead_verdicts(values, "absent", worse) == "n/a"
