"""The reference run's export: intervals checked against independent computations."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from randablate.models import build_model, save_model
from randablate.reference import (
    attack_summary,
    export_reference,
    median_interval,
    reference_summary,
)


def test_median_interval_covers_the_median_at_its_level():
    # Simulation: samples of a continuous law with median 0; the interval must cover 0 in
    # about 95% of samples (at least 93%), and be the exact ranks of the binomial tails.
    rng = np.random.default_rng(0)
    covered = [
        (lambda lo_hi: lo_hi[0] <= 0.0 <= lo_hi[1])(median_interval(rng.normal(size=301)))
        for _ in range(2000)
    ]
    assert 0.93 <= np.mean(covered) <= 0.98
    values = np.arange(1.0, 101.0)  # 100 images with robustness 1..100
    low, high = median_interval(values)
    assert (low, high) == (40.0, 61.0)  # the 61st and 40th largest: binomial(100, 1/2) tails
    with pytest.raises(ValueError, match="empty"):
        median_interval(np.array([]))


def certs(n: int, correct: int, abstained: int, robustness: np.ndarray) -> pd.DataFrame:
    label = np.zeros(n, dtype=int)
    prediction = np.full(n, 1)
    prediction[:correct] = 0
    prediction[correct : correct + abstained] = -1
    return pd.DataFrame({"label": label, "prediction": prediction, "robustness": robustness})


def test_summary_rows_carry_clopper_pearson_and_the_paper():
    robustness = np.r_[np.full(900, 8.0), np.full(100, -np.inf)]
    table = reference_summary(
        {("table1", "k=45"): certs(1000, 960, 10, robustness)},
        {("table1", "k=45"): {"accuracy_pct": 96.72, "median_certified_robustness_pixels": 8}},
    )
    row = table.set_index("quantity")
    low, high = proportion_confint(960, 1000, alpha=0.05, method="beta")
    assert row.loc["accuracy_pct", "ours"] == pytest.approx(96.0)
    assert row.loc["accuracy_pct", ["ours_low", "ours_high"]].tolist() == pytest.approx(
        [100 * low, 100 * high]
    )
    assert bool(row.loc["accuracy_pct", "paper_inside"]) == (100 * low <= 96.72 <= 100 * high)
    assert row.loc["median_certified_robustness_pixels", "ours"] == 8.0
    assert bool(row.loc["median_certified_robustness_pixels", "paper_inside"])
    assert math.isnan(row.loc["abstained_pct", "paper"])
    assert (table["images"] == 1000).all()


def test_attack_summary_intervals_and_the_paper_row():
    # 275 attacked images: 272 classified correctly; verified L0 1..272 pixels, 0 for the three
    # already misclassified, one attack unconfirmed (inf).
    label = np.zeros(275, dtype=int)
    clean = np.r_[np.zeros(272, dtype=int), np.ones(3, dtype=int)]
    l0 = np.r_[np.arange(1.0, 272.0), np.inf, np.zeros(3)]
    attack = pd.DataFrame({"label": label, "clean_prediction": clean, "attack_l0": l0})
    paper = {"accuracy_pct": 99.1, "median_attack_magnitude_pixels": 9.0}
    table = attack_summary(attack, "CNN, ours", paper, "CNN (Schott et al. 2019)")
    row = table.set_index("quantity")
    low, high = proportion_confint(272, 275, alpha=0.05, method="beta")
    assert row.loc["accuracy_pct", "ours"] == pytest.approx(98.91)
    assert row.loc["accuracy_pct", ["ours_low", "ours_high"]].tolist() == pytest.approx(
        [100 * low, 100 * high]
    )
    assert bool(row.loc["accuracy_pct", "paper_inside"])  # 99.1 inside [96.8, 99.8]
    # the median is the 138th smallest of 275: 0, 0, 0, 1, ..., so 135 pixels
    median = row.loc["median_attack_magnitude_pixels"]
    assert median["ours"] == 135.0 and not bool(median["paper_inside"])
    assert (median["ours_low"], median["ours_high"]) == median_interval(l0)
    assert median["ours_low"] < 135.0 < median["ours_high"]
    assert (table["paper_row"] == "CNN (Schott et al. 2019)").all() and (
        table["images"] == 275
    ).all()


def _drops_the_last_row(real):
    """A planted fault: every exported table loses its last row."""

    def write(table, path, gzip=False):
        real(table.iloc[:-1], path, gzip=gzip)

    return write


@pytest.mark.parametrize("planted", [None, "drops the last row"])
def test_export_writes_certificates_histories_and_copies(tmp_path, monkeypatch, planted):
    from randablate import reference

    certificates = pd.DataFrame(
        {
            "index": [3, 9, 12],
            "label": [1, 2, 7],
            "guess": [1, 0, 7],
            "p_lower": [0.9, 0.4, 0.987654321],
            "radius": [4, -1, 9],
            "robustness": [4.0, -np.inf, 9.0],
            "prediction": [1, -1, 7],
            "correct": [True, False, True],
            "select_0": [0, 5, 1],
            "bound_0": [1, 50, 0],
            "predict_7": [4, 0, 90],
        }
    )
    certificates.to_csv(tmp_path / "c.csv", index=False)
    history = [{"epoch": 1, "loss": 2.25, "lr": 0.01}, {"epoch": 2, "loss": 1.5, "lr": 0.001}]
    meta = {"arch": "cnn", "in_channels": 2, "num_classes": 10, "history": history}
    save_model(tmp_path / "m.pt", build_model("cnn", 2, 10), meta)
    (tmp_path / "t.csv").write_bytes(b"k,accuracy\n45,96.7\n100,98.8\n")
    summary = pd.DataFrame({"table": ["table1", "table2"], "ours": [1.0, 2.5]})
    if planted:
        monkeypatch.setattr(reference, "write_csv", _drops_the_last_row(reference.write_csv))
    written = export_reference(
        tmp_path / "out",
        summary,
        {"multichannel": tmp_path / "c.csv"},
        {"multichannel": tmp_path / "m.pt"},
        {"table1.csv": tmp_path / "t.csv"},
    )

    def exported_as_expected() -> bool:
        out = tmp_path / "out"
        with gzip.open(out / "certificates_multichannel.csv.gz", "rt") as fh:
            back = pd.read_csv(fh)
        expected = certificates.drop(columns="correct")  # everything else, in the same order
        names = ["certificates_multichannel.csv.gz", "summary.csv", "table1.csv"]
        return (
            sorted(p.name for p in written) == [*names, "training_multichannel.csv"]
            and back.equals(expected)
            and pd.read_csv(out / "training_multichannel.csv").equals(pd.DataFrame(history))
            and pd.read_csv(out / "summary.csv").equals(summary)
            and (out / "table1.csv").read_bytes() == (tmp_path / "t.csv").read_bytes()
        )

    assert exported_as_expected() is (planted is None)
