"""The checked-in reference run (reference/mnist-k45) agrees with itself and with the paper.

Each printed cell is recomputed here from the per-image vote counts with independent code
(statsmodels' Clopper–Pearson bound, exact binomial coefficients, scipy's binomial test), and the
paper's values beside ours are checked against the transcribed tables.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from reference_cells import assert_summary_cells
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from randablate.names import ENCODINGS, PAPER_DIR

REFERENCE = REPO / "reference" / "mnist-k45"
PAPER = REPO / PAPER_DIR
D, K, ALPHA, N0, N, N_PREDICT, IMAGES = 784, 45, 0.05, 1_000, 10_000, 10_000, 2_000


def counts(certs: pd.DataFrame, stage: str) -> np.ndarray:
    return certs[[f"{stage}_{c}" for c in range(10)]].to_numpy(np.int64)


def brute_radius(p_lower: float) -> int:
    """Largest ρ with p_lower − (1 − C(d−ρ,k)/C(d,k)) > 1/2, by exact arithmetic; −1 if none."""
    total, rho = math.comb(D, K), -1
    while rho + 1 <= D and p_lower - (1 - Fraction(math.comb(D - rho - 1, K), total)) > 0.5:
        rho += 1
    return rho


@pytest.fixture(scope="module", params=ENCODINGS)
def certificates(request) -> tuple[str, pd.DataFrame]:
    return request.param, pd.read_csv(REFERENCE / f"certificates_{request.param}.csv.gz")


def test_per_image_certificates_follow_from_their_counts(certificates):
    encoding, certs = certificates
    select, bound, predict = (counts(certs, s) for s in ("select", "bound", "predict"))
    assert len(certs) == IMAGES and certs["index"].is_unique
    assert (select.sum(1) == N0).all() and (bound.sum(1) == N).all()
    assert (predict.sum(1) == N_PREDICT).all()
    guess = select.argmax(1)
    assert (certs["guess"] == guess).all()
    top = bound[np.arange(IMAGES), guess]
    low, _ = proportion_confint(top, N, alpha=2 * ALPHA, method="beta")  # one-sided (1 − alpha)
    assert certs["p_lower"].to_numpy() == pytest.approx(np.where(top == 0, 0.0, low), abs=1e-9)
    radius = [brute_radius(p) for p in certs["p_lower"]]
    assert certs["radius"].tolist() == radius, encoding
    ordered = np.sort(predict, axis=1)
    pvalue = [binomtest(int(a), int(a + b)).pvalue if a > b else 1.0 for b, a in ordered[:, -2:]]
    expected = np.where(np.array(pvalue) <= ALPHA, predict.argmax(1), -1)
    assert (certs["prediction"] == expected).all()
    robustness = np.where(guess == certs["label"], np.maximum(radius, 0), -np.inf)
    assert np.array_equal(certs["robustness"].to_numpy(), robustness)


def test_summary_cells_are_the_certificates_and_the_paper_values_are_the_papers():
    summary = pd.read_csv(REFERENCE / "summary.csv")
    table1 = pd.read_csv(PAPER / "table1_mnist_certificates.csv").set_index("k").loc[K]
    table8 = pd.read_csv(PAPER / "table8_null_encoding.csv")
    table8 = table8[table8["dataset"] == "MNIST"].set_index("encoding")
    rows = {("table1", f"k={K}"): ("multichannel", table1)}
    for encoding in ENCODINGS:
        rows[("table8", f"MNIST k={K} {encoding}")] = (encoding, table8.loc[encoding])
    assert len(summary) == 3 * len(rows) and (summary["images"] == IMAGES).all()
    for (table, row), (encoding, paper) in rows.items():
        certs = pd.read_csv(REFERENCE / f"certificates_{encoding}.csv.gz")
        assert len(certs) == IMAGES
        ours = summary[(summary["table"] == table) & (summary["row"] == row)]
        assert_summary_cells(ours.set_index("quantity"), certs, paper)


def test_tables_and_scorecard_agree_with_the_summary():
    summary = pd.read_csv(REFERENCE / "summary.csv")
    table1 = pd.read_csv(REFERENCE / "table1.csv")
    assert table1["k"].tolist() == [K] and table1["images"].tolist() == [IMAGES]
    assert table1[["n0", "n", "n_predict"]].iloc[0].tolist() == [N0, N, N_PREDICT]
    assert (table1["scale"] == "reference").all()
    scorecard = pd.read_csv(REFERENCE / "scorecard.csv")
    merged = scorecard.merge(summary, on=["table", "row", "quantity"], suffixes=("", "_summary"))
    assert len(merged) == len(summary) == len(scorecard)
    assert merged["ours"].tolist() == pytest.approx(merged["ours_summary"].tolist())


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_training_histories_are_the_papers_schedule(encoding):
    history = pd.read_csv(REFERENCE / f"training_{encoding}.csv")
    assert history["epoch"].tolist() == list(range(1, 401))
    lr = history.set_index("epoch")["lr"]
    assert (lr.loc[1:200] == 0.01).all() and (lr.loc[201:400] == 0.001).all()
    assert history["accuracy"].iloc[-1] > 0.7 and history["loss"].iloc[-1] < 1.0


def test_table2_rows_follow_from_the_per_image_attack():
    attack = pd.read_csv(REFERENCE / "attack_unprotected_cnn.csv")
    summary = pd.read_csv(REFERENCE / "summary_table2.csv").set_index("quantity")
    table2 = pd.read_csv(REFERENCE / "table2.csv").set_index("model")
    row = table2.loc["CNN, unprotected (k=784, no pixel ablated)"]
    assert len(attack) == 275 and attack["index"].is_unique
    assert (attack["n_query"] == 10_000).all() and int(row["starts"]) == 10
    assert bool(row["l2_binary_search"]) and row["init"] == "foolbox2"
    median = float(np.median(attack["attack_l0"]))
    assert float(row["median_attack_magnitude_pixels"]) == median
    assert summary.loc["median_attack_magnitude_pixels", "ours"] == median
    accuracy = 100 * (attack["clean_prediction"] == attack["label"]).mean()
    assert summary.loc["accuracy_pct", "ours"] == pytest.approx(accuracy, abs=0.005)
    assert int(row["budget_bound"]) == int(attack["budget_bound"].sum())
    # the smoothed classifier is not attacked at the reference settings: the paper's row stays
    smoothed = table2.loc[f"Randomized ablation (k={K})"]
    assert smoothed["kind"] == "quoted" and math.isnan(smoothed["accuracy_pct"])
    history = pd.read_csv(REFERENCE / "training_unprotected_cnn.csv")
    assert history["epoch"].tolist() == list(range(1, 11)) and (history["lr"] == 0.01).all()
