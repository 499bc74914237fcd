"""The four-certificate comparison, against exact per-image radii and through its rules."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from conftest import paper_config, snakemake, write_config
from statsmodels.stats.proportion import proportion_confint
from test_certificates_joint import reference_radius
from test_figures import COMPARED

from randablate.comparison import compare_certificates, looser_than_corollary1
from randablate.figures import plot_compared

D, ALPHA, CLASSES = 784, 0.05, 10


def synthetic_votes(k: int, images: int, seed: int) -> dict[str, np.ndarray]:
    """Votes of a model whose top class is the label 80% of the time, odds spread or peaked."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, CLASSES, images)
    probs = rng.dirichlet(np.full(CLASSES, 0.2), images)
    top = rng.uniform(0.5, 1.0, images)
    probs *= (1 - top)[:, None]
    winner = np.where(rng.uniform(size=images) < 0.8, label, rng.integers(0, CLASSES, images))
    probs[np.arange(images), winner] += top
    return {
        "index": np.arange(images),
        "label": label,
        "k": np.int64(k),
        "d": np.int64(D),
        "counts_select": rng.multinomial(100, probs),
        "counts_bound": rng.multinomial(1000, probs),
    }


def exact_corollary1(count: int, n: int, k: int) -> int:
    """Largest ρ with p̲ − Δ(ρ) > 1/2 in exact arithmetic on the statsmodels bound."""
    p = Fraction(float(proportion_confint(count, n, alpha=2 * ALPHA, method="beta")[0]))
    best = -1
    for rho in range(D + 1):
        if p - (1 - Fraction(math.comb(D - rho, k), math.comb(D, k))) > Fraction(1, 2):
            best = rho
        else:
            break
    return best


def test_comparison_matches_exact_per_image_radii() -> None:
    votes = {20: synthetic_votes(20, 60, 1), 45: synthetic_votes(45, 60, 2)}
    table = compare_certificates(votes, ALPHA)
    assert list(table.columns[:6]) == ["k", "rho", "corollary1", "corollary2", "top2", "top3"]
    for k, v in votes.items():
        sel, bnd, label = v["counts_select"], v["counts_bound"], v["label"]
        n = bnd.sum(1)
        lo, hi = proportion_confint(bnd, n[:, None], alpha=2 * ALPHA / CLASSES, method="beta")
        radii = {name: [] for name in ("corollary1", "corollary2", "top2", "top3")}
        for i, y in enumerate(label):
            guess = int(np.argmax(sel[i]))
            r1 = exact_corollary1(int(bnd[i, guess]), int(n[i]), k)
            radii["corollary1"].append(r1 if guess == y else -1)
            for name, cls, top in (("corollary2", guess, 1), ("top2", y, 2), ("top3", y, 3)):
                uppers = [Fraction(float(hi[i, j])) for j in range(CLASSES) if j != cls]
                r = reference_radius(Fraction(float(lo[i, cls])), uppers, D, k, top)
                radii[name].append(r if cls == y else -1)
        part = table[table["k"] == k]
        assert part["rho"].tolist() == list(range(len(part)))
        assert (part["images"] == 60).all()
        for name, values in radii.items():
            want = [100 * np.mean(np.array(values) >= rho) for rho in part["rho"]]
            np.testing.assert_allclose(part[name], want, err_msg=name)
        assert part["corollary1"].iloc[0] > 30 and part["top3"].iloc[-1] == 0
    # the last ρ is one past the largest certified radius of any certificate and k
    assert table.groupby("k")["rho"].max().tolist() == [table["rho"].max()] * 2
    assert (table["top3"] >= table["top2"]).all()
    np.testing.assert_allclose(
        table["corollary2_minus_corollary1"], table["corollary2"] - table["corollary1"]
    )


def test_looser_rhos_and_the_figure(tmp_path) -> None:
    table = COMPARED.copy()
    looser = looser_than_corollary1(table)
    assert looser["k"].tolist() == [1] and looser["rhos"].tolist() == [[0]]
    plot_compared(table, tmp_path / "f.png", "title")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError):
        compare_certificates({}, ALPHA)


def test_the_rules_build_the_table_and_figure_from_existing_votes(tmp_path) -> None:
    config = paper_config()
    config["table1"]["k"] = [20, 45]
    config["figures"]["figure1_k"] = [20, 45]
    write_config(tmp_path, config)
    for k in (20, 45):
        directory = tmp_path / f"results/votes/mnist/multichannel/cnn/k{k}/standard"
        directory.mkdir(parents=True)
        np.savez(directory / "votes.npz", **synthetic_votes(k, 40, k))
    target = "results/figures/certificates_compared_mnist.png"
    run = snakemake(
        tmp_path,
        target,
        "--cores",
        "1",
        "--allowed-rules",
        "certificates_compared",
        "figure_certificates_compared",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    table = pd.read_csv(tmp_path / "results/tables/certificates_compared_mnist.csv")
    assert sorted(table["k"].unique()) == [20, 45]
    assert (tmp_path / target).stat().st_size > 10_000
    log = (tmp_path / "logs/results/tables/certificates_compared_mnist.log").read_text()
    assert "Corollary 2 below Corollary 1" in log
    # both go into the report under their own category, with the caption rendered
    run = snakemake(tmp_path, target, "--report", "report.html")
    assert run.returncode == 0, run.stdout + run.stderr
    report = (tmp_path / "report.html").read_text()
    assert "Certificates compared" in report and "certificates_compared_mnist.csv" in report
    assert (
        "Where Corollary 2 is looser than Corollary 1" in report and "20, 45; n0 = 1000" in report
    )
