"""L0 certificates compared: the table against independent sums, and the rules end to end."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, copy_mnist, holds_unless_planted, snakemake, tiny_config, write_config
from test_comparison import synthetic_votes

from randablate import figures
from randablate.l0compared import benchmark_seconds, curves, methods, summary

ALPHA = 0.05
TARGETS = (
    "results/tables/l0_certificates_compared_mnist.csv",
    "results/figures/l0_certificates_compared_mnist.png",
)


def fpa_votes(groups: int, labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Votes of T submodels that each vote for the label with probability 0.8."""
    rng = np.random.default_rng(seed)
    right = rng.uniform(size=(len(labels), groups)) < 0.8
    votes = np.where(right, labels[:, None], rng.integers(0, 10, (len(labels), groups)))
    counts = np.stack([np.bincount(row, minlength=10) for row in votes])
    return {
        "index": np.arange(len(labels)),
        "label": labels,
        "counts": counts,
        "groups": np.int64(groups),
        "d": np.int64(784),
        "seconds": np.float64(0.1),
    }


def test_the_table_holds_each_certificates_curve_median_and_cost(tmp_path) -> None:
    standard = synthetic_votes(45, 80, 1)
    lee = synthetic_votes(45, 80, 2)
    lee["label"] = standard["label"]
    fpa = {t: fpa_votes(t, standard["label"], t) for t in (10, 25)}
    seconds = {("standard", 45): 8.0, ("fpa", 10): 0.8}
    compared = methods({45: standard}, ALPHA, fpa, {45: lee}, 0.001, seconds)
    names = [m.method for m in compared]
    assert names == [
        "ra_k45_corollary1",
        "ra_k45_corollary2",
        "ra_k45_top2",
        "ra_k45_top3",
        "lee_k45",
        "fpa_T10",
        "fpa_T25",
    ]
    quoted = pd.read_csv(REPO / "resources/fpa/hammoudeh_lowd_2024_mnist.csv")
    table = summary(compared, quoted).set_index("method")
    by_name = {m.method: m for m in compared}
    for name in ("fpa_T10", "fpa_T25"):
        counts, label = fpa[int(name[5:])]["counts"], standard["label"]
        # independent: sort the counts; the top is the largest, ties to the smaller label
        radius = []
        for row, y in zip(counts, label, strict=True):
            top = max(range(10), key=lambda c: (row[c], -c))
            r = min((row[top] - row[c] - (c < top)) // 2 for c in range(10) if c != top)
            radius.append(r if top == y else -1)
        assert by_name[name].radius.tolist() == radius
        ranked = sorted(radius, reverse=True)
        median = ranked[(len(ranked) - 1) // 2] if ranked[(len(ranked) - 1) // 2] >= 0 else None
        got = table.loc[name, "median_certificate_pixels"]
        assert (pd.isna(got) and median is None) or got == median
        assert table.loc[name, "certified_accuracy_rho0"] == pytest.approx(
            round(100 * np.mean(np.array(radius) >= 0), 2)
        )
        assert table.loc[name, "guarantee"] == "always (deterministic)"
    assert table.loc["fpa_T10", "forward_passes_per_image"] == 10
    assert table.loc["fpa_T10", "seconds_per_image"] == pytest.approx(0.01)
    assert table.loc["ra_k45_corollary1", "forward_passes_per_image"] == 1100
    assert table.loc["ra_k45_corollary1", "seconds_per_image"] == pytest.approx(0.1)
    assert pd.isna(table.loc["lee_k45", "seconds_per_image"])
    assert table.loc["lee_k45", "guarantee"] == "with probability 1 - alpha = 0.999"
    assert table.loc["fpa_paper", "median_certificate_pixels"] == 12
    assert table.loc["fpa_paper", "source"].startswith("quoted: Hammoudeh & Lowd")
    assert (table.drop(index=["fpa_paper", "prior_best_paper"])["source"] == "measured").all()
    curve = curves(compared)
    assert curve["rho"].tolist() == list(range(len(curve)))
    for m in compared:
        want = [100 * np.mean(m.radius >= rho) for rho in curve["rho"]]
        np.testing.assert_allclose(curve[m.method], want)
    assert (curve.iloc[-1, 1:] == 0).all()


def test_votes_of_other_images_are_refused() -> None:
    standard = synthetic_votes(45, 20, 1)
    other = fpa_votes(5, standard["label"], 0)
    other["index"] = other["index"] + 1
    with pytest.raises(ValueError, match="same images"):
        methods({45: standard}, ALPHA, {5: other})


def test_benchmark_seconds(tmp_path) -> None:
    for i, s in enumerate((1.5, 2.25)):
        (tmp_path / f"b{i}.tsv").write_text(f"s\th:m:s\tmax_rss\n{s}\t0:00:01\t100\n")
    paths = [tmp_path / "b0.tsv", tmp_path / "b1.tsv"]
    assert benchmark_seconds(paths) == pytest.approx(3.75)
    assert benchmark_seconds([*paths, tmp_path / "missing.tsv"]) is None
    (tmp_path / "bad.tsv").write_text("x\n1\n")
    with pytest.raises(ValueError, match="benchmark"):
        benchmark_seconds([tmp_path / "bad.tsv"])


def l0_tiny_config(data_dir) -> dict:
    config = tiny_config(data_dir)
    config["table1"]["k"] = [30]
    config["figures"]["figure1_k"] = [30]
    config["table7"].update(mnist_k=30, n0=20, n=300, shards=1)
    config["fpa"].update(groups=[3, 4], compare_k=[30], batch_size=5, precision="bf16")
    config["fpa"]["training"].update(
        epochs=1, lr=0.001, precision="bf16", checkpoint_every=1, max_train_images=300
    )
    return config


def test_the_rules_build_the_comparison_on_the_same_images(mnist, tmp_path) -> None:
    write_config(tmp_path, l0_tiny_config(copy_mnist(tmp_path)))
    run = snakemake(tmp_path, *TARGETS, "--cores", "2", "--resources", "gpu=1")
    assert run.returncode == 0, run.stderr[-5000:]
    table = pd.read_csv(tmp_path / TARGETS[0]).set_index("method")
    measured = table[table["source"] == "measured"]
    assert list(measured.index) == [
        "ra_k30_corollary1",
        "ra_k30_corollary2",
        "ra_k30_top2",
        "ra_k30_top3",
        "lee_k30",
        "fpa_T3",
        "fpa_T4",
    ]
    assert (measured["images"] == 12).all()
    assert table.loc["fpa_T3", "forward_passes_per_image"] == 3
    assert table.loc["lee_k30", "forward_passes_per_image"] == 320
    # n0 + n + n_predict: the tiny config draws its predictions apart (n_predict != n)
    assert table.loc["ra_k30_corollary1", "forward_passes_per_image"] == 320
    assert (measured["seconds_per_image"] > 0).all()
    assert table.loc["fpa_paper", "median_certificate_pixels"] == 12
    # FPA's votes: T submodels voted on each of the 12 images Table 1 certifies
    votes = np.load(tmp_path / "results/fpa/mnist/multichannel/cnn/T4/votes.npz")
    assert (votes["counts"].sum(1) == 4).all()
    standard = np.load(tmp_path / "results/votes/mnist/multichannel/cnn/k30/standard/votes.npz")
    assert np.array_equal(votes["index"], standard["index"])
    assert np.array_equal(votes["label"], standard["label"])
    curves_table = pd.read_csv(
        tmp_path / "results/tables/l0_certificates_compared_mnist_curves.csv"
    )
    assert (curves_table.drop(columns="rho").diff().iloc[1:] <= 0).all().all()
    assert (tmp_path / TARGETS[1]).stat().st_size > 10_000
    log = tmp_path / "logs/results/fpa/mnist/multichannel/cnn/T3/train.log"
    assert "submodel 3 of 3" in log.read_text()
    # nothing reruns, and the report renders the caption with its quoted source
    again = snakemake(tmp_path, *TARGETS, "-n", "--cores", "1")
    assert "Nothing to be done" in again.stdout + again.stderr
    run = snakemake(tmp_path, *TARGETS, "--report", "report.html", timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    report = (tmp_path / "report.html").read_text()
    assert "l0_certificates_compared_mnist.csv" in report
    assert "taken from the paper named there" in report and "T = 3, 4" in report


def plotted_curves(fig) -> dict[str, tuple[list[float], list[float]]]:
    """Each drawn line of the figure's plot, by legend label: (x, y)."""
    ax = fig.axes[0]
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}


@pytest.mark.parametrize("planted", [None, "fpa_T5 drawn from fpa_T10's column"])
def test_the_figure_draws_every_curve_and_marker_and_its_legend_clears_the_plot(planted):
    curves = pd.DataFrame(
        {
            "rho": [0, 1, 2, 3],
            "ra_k45_corollary1": [90.0, 70.0, 40.0, 0.0],
            "fpa_T5": [95.0, 80.0, 0.0, 0.0],
            "fpa_T10": [93.0, 85.0, 60.0, 10.0],
        }
    )
    labels = {"ra_k45_corollary1": "RA k = 45", "fpa_T5": "FPA T = 5", "fpa_T10": "FPA T = 10"}
    drawn = curves.copy()
    if planted:
        drawn["fpa_T5"] = curves["fpa_T10"]
    fig = figures.l0_compared_figure(drawn, labels, "title", {"quoted median 12: FPA": 12.0})
    fig.canvas.draw()

    def check() -> None:
        lines = plotted_curves(fig)
        for method, label in labels.items():
            x, y = lines[label]
            assert x == curves["rho"].tolist() and y == curves[method].tolist(), label
        assert lines["quoted median 12: FPA"] == ([12.0], [50.0])
        styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].lines}
        assert styles["RA k = 45"] == "--" and styles["FPA T = 5"] == "-"

    holds_unless_planted(planted, check)
    # the legend sits in a panel of its own: none of its text overlaps the plot
    renderer = fig.canvas.get_renderer()
    plot_box = fig.axes[0].get_window_extent(renderer)
    legend = fig.axes[1].get_legend()
    assert {t.get_text() for t in legend.get_texts()} >= set(labels.values())
    for text in legend.get_texts():
        assert not text.get_window_extent(renderer).overlaps(plot_box), text.get_text()
    plt.close(fig)
