"""The figures' contents read back: plotted lines and image pixels, against independent values.

Each figure is drawn by the library as the pipeline draws it; `save_figure` is wrapped so that
the test keeps the figure and reads its lines (Line2D data) and images (AxesImage arrays). Each
test has a `planted` case that feeds the figure a wrong column, or the wrong data, and checks
that the test then fails.
"""

from __future__ import annotations

import math
from fractions import Fraction

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import holds_unless_planted

from randablate import certificates, figures, illustrations, tables
from randablate.seeding import generator


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The figures saved while the test runs (still readable after `save_figure` closes them)."""
    kept = []
    real = figures.save_figure

    def save(fig, path):
        kept.append(fig)
        real(fig, path)

    monkeypatch.setattr(figures, "save_figure", save)
    return kept


def lines_by_label(ax) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each labelled line of `ax` as (x, y) arrays."""
    return {
        line.get_label(): (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


# ---------------------------------------------------------------------------- Figure 2


def exact_delta(rho: int, d: int, k: int) -> float:
    """Δ(ρ) = 1 − C(d−ρ, k) / C(d, k) from exact integers."""
    return float(1 - Fraction(math.comb(d - rho, k), math.comb(d, k)))


def check_figure2(fig, ks: list[int], d: int, max_rho: int) -> None:
    (ax,) = fig.axes
    lines = lines_by_label(ax)
    assert sorted(lines) == sorted(f"k = {k}" for k in ks)
    for k in ks:
        x, y = lines[f"k = {k}"]
        assert x.tolist() == list(range(max_rho + 1))
        want = [exact_delta(rho, d, k) for rho in range(max_rho + 1)]
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-15)
    assert ax.get_xlim() == (0, max_rho) and ax.get_ylim() == (0, 1)


@pytest.mark.parametrize("planted", [None, "the line of k + 1"])
def test_figure2_plots_delta_of_each_k(drawn, tmp_path, monkeypatch, planted):
    if planted:
        real = certificates.delta
        monkeypatch.setattr(certificates, "delta", lambda rho, d, k: real(rho, d, k + 1))
    ks, d, max_rho = [5, 45, 100], 784, 60
    figures.plot_delta(ks, tmp_path / "f2.png", d=d, max_rho=max_rho)
    assert (tmp_path / "f2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    holds_unless_planted(planted, check_figure2, drawn[0], ks, d, max_rho)


# ---------------------------------------------------------------------------- Figure 4


def check_figure4(fig, image: np.ndarray, k: int, mean: float) -> None:
    """The four panels from the image alone: kept pixels unchanged, the rest as each title says."""
    axes = fig.axes
    titles = [ax.get_title() for ax in axes]
    assert titles == [
        "(a) image",
        f"(b) k = {k} kept, NULL unique",
        f"(c) NULL = mean ({mean:.2f})",
        "(d) ablated pixels as noise",
    ]
    shown = [np.asarray(ax.get_images()[0].get_array(), float) for ax in axes]
    grey = np.repeat(image[..., None], 3, axis=2)
    np.testing.assert_allclose(shown[0], grey, atol=1e-7)
    kept = np.all(np.abs(shown[1] - grey) < 1e-7, axis=2)
    # a random image has no pixel of the NULL colour, so the kept pixels are exactly these
    assert kept.sum() == k
    np.testing.assert_allclose(shown[1][~kept], np.tile([0.85, 0.2, 0.2], ((~kept).sum(), 1)))
    np.testing.assert_allclose(shown[2][kept], grey[kept], atol=1e-7)
    np.testing.assert_allclose(shown[2][~kept], mean, atol=1e-7)
    np.testing.assert_allclose(shown[3][kept], grey[kept], atol=1e-7)
    noise = shown[3][~kept]
    assert np.all(noise[:, 0] == noise[:, 1]) and np.all(noise[:, 1] == noise[:, 2])  # grey
    assert 0.4 < noise[:, 0].mean() < 0.6 and noise[:, 0].std() > 0.2  # uniform noise


@pytest.mark.parametrize("planted", [None, "panels (b) and (c) swapped"])
def test_figure4_shows_the_image_and_its_three_encodings(drawn, tmp_path, planted):
    image = torch.rand(1, 28, 28, generator=generator(1))
    k, mean = 85, 0.13
    panels = illustrations.null_encodings(image, k, mean, 4)
    if planted:
        (a, b, c, dd), names = panels.values(), list(panels)
        panels = dict(zip(names, [a, c, b, dd], strict=True))
    figures.plot_null_encodings(panels, tmp_path / "f4.png")
    holds_unless_planted(planted, check_figure4, drawn[0], image[0].numpy(), k, mean)


# ---------------------------------------------------------------------------- certified accuracy


def certificate_table() -> pd.DataFrame:
    """Certificates of 8 images for two k: right and wrong guesses, abstentions, radius −1."""
    return pd.DataFrame(
        {
            "label": [1, 2, 3, 4, 5, 6, 7, 8],
            "guess": [1, 2, 3, 4, 0, 6, 0, 8],
            "radius": [0, 3, -1, 6, 5, 2, 9, 1],
        }
    )


def robustness_table(certs: pd.DataFrame) -> pd.DataFrame:
    """The certificate table as the pipeline writes it, robustness included."""
    certs = certs.copy()
    right = certs["guess"] == certs["label"]
    certs["robustness"] = np.where(right, certs["radius"].clip(lower=0), -np.inf)
    return certs


def expected_accuracy(certs: pd.DataFrame, rho: int) -> float:
    """Percent of images classified right with a certificate of at least ρ, image by image."""
    hits = sum(
        1
        for label, guess, radius in zip(
            certs["label"], certs["guess"], certs["radius"], strict=True
        )
        if guess == label and max(radius, 0) >= rho
    )
    return 100.0 * hits / len(certs)


def check_certified_accuracy(fig, certs_by_k: dict[int, pd.DataFrame]) -> None:
    (ax,) = fig.axes
    lines = lines_by_label(ax)
    ks = sorted(certs_by_k)
    assert sorted(k for k in lines if k.startswith("k = ")) == sorted(f"k = {k}" for k in ks)
    colours = figures.line_colours(len(ks))
    for colour, k in zip(colours, ks, strict=True):
        x, y = lines[f"k = {k}"]
        line = next(li for li in ax.get_lines() if li.get_label() == f"k = {k}")
        assert line.get_drawstyle() == "steps-post"
        assert mcolors.to_rgba(line.get_color()) == pytest.approx(colour)
        assert x.tolist() == list(range(int(x[-1]) + 1))
        assert y.tolist() == pytest.approx([expected_accuracy(certs_by_k[k], r) for r in x])
    # the curves run one past the largest certificate of any k
    finite = [
        max(int(radius), 0)
        for certs in certs_by_k.values()
        for label, guess, radius in zip(
            certs["label"], certs["guess"], certs["radius"], strict=True
        )
        if guess == label
    ]
    assert x[-1] == max(finite, default=0) + 1


@pytest.mark.parametrize("planted", [None, "radius column for robustness"])
def test_certified_accuracy_plots_each_ks_curve(drawn, tmp_path, monkeypatch, planted):
    base = certificate_table()
    other = base.assign(radius=[4, 4, 0, -1, 1, 7, 0, 2])
    certs_by_k = {10: robustness_table(base), 45: robustness_table(other)}
    if planted:  # the curves drawn from the radius, misclassified images included
        monkeypatch.setattr(
            tables,
            "robustness_by_k",
            lambda by_k: {k: c["radius"].to_numpy(float) for k, c in by_k.items()},
        )
    figures.plot_certified_accuracy(
        tables.robustness_by_k(certs_by_k), tmp_path / "ca.png", "t", paper_medians={10: 3}
    )
    fig = drawn[0]
    # the paper's median is marked on the 50% line in k = 10's colour
    marks = [li for li in fig.axes[0].get_lines() if li.get_marker() == "v" and len(li.get_xdata())]
    assert [(li.get_xdata()[0], li.get_ydata()[0]) for li in marks] == [(3, 50.0)]
    holds_unless_planted(planted, check_certified_accuracy, fig, certs_by_k)


# ---------------------------------------------------------------------------- comparison


COMPARED = pd.DataFrame(
    {
        "k": [1, 1, 1, 2, 2],
        "rho": [0, 1, 2, 0, 1],
        "corollary1": [90.0, 50.0, 10.0, 80.0, 0.0],
        "corollary2": [85.0, 50.0, 12.0, 80.0, 0.0],
        "top2": [95.0, 60.0, 20.0, 90.0, 5.0],
        "top3": [96.0, 70.0, 30.0, 95.0, 6.0],
    }
)
NAMES = {
    "Corollary 1 (paper)": "corollary1",
    "Corollary 2 (Bonferroni over classes)": "corollary2",
    "label in top-2": "top2",
    "label in top-3": "top3",
}


def check_compared(fig, table: pd.DataFrame) -> None:
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["k = 1", "k = 2"]
    for ax, k in zip(panels, (1, 2), strict=True):
        part = table[table["k"] == k]
        lines = lines_by_label(ax)
        assert sorted(lines) == sorted(NAMES)
        for label, column in NAMES.items():
            x, y = lines[label]
            assert x.tolist() == part["rho"].tolist()
            assert y.tolist() == part[column].tolist(), label


@pytest.mark.parametrize("planted", [None, "top-2 and top-3 labels swapped"])
def test_compared_certificates_plot_each_column_under_its_name(
    drawn, tmp_path, monkeypatch, planted
):
    if planted:
        swapped = {**figures.LABELS, "top2": "label in top-3", "top3": "label in top-2"}
        monkeypatch.setattr(figures, "LABELS", swapped)
    figures.plot_compared(COMPARED, tmp_path / "c.png", "title")
    holds_unless_planted(planted, check_compared, drawn[0], COMPARED)


# ---------------------------------------------------------------------------- attack examples


def attack_record() -> dict:
    """Three attacked images whose adversarial examples differ from the clean ones."""
    rng = np.random.default_rng(0)
    clean = rng.random((3, 1, 28, 28))
    adv = clean.copy()
    adv[:, 0, 5:9, 5:9] = 1.0 - adv[:, 0, 5:9, 5:9]
    return {
        "index": np.array([11, 22, 33]),
        "label": np.array([3, 4, 5]),
        "clean_prediction": np.array([3, 4, 5]),
        "adv_prediction": np.array([7, -1, 5]),
        "l0": np.array([16.0, 9.0, 4.0]),
        "query_l0": np.array([16.0, 8.0, 4.0]),
        "clean_image": clean,
        "adv_image": adv,
    }


class WrongColumn(dict):
    """A planted fault: the record answers "adv_image" with the clean images."""

    def __getitem__(self, key):
        return super().__getitem__("clean_image" if key == "adv_image" else key)


def check_attack_figure(fig, attack: dict, positions: list[int]) -> None:
    axes = np.array(fig.axes).reshape(2, -1)
    for slot, position in enumerate(positions):
        top, bottom = axes[0, slot], axes[1, slot]
        clean = np.asarray(top.get_images()[0].get_array(), float)
        adv = np.asarray(bottom.get_images()[0].get_array(), float)
        np.testing.assert_allclose(clean, attack["clean_image"][position, 0])
        np.testing.assert_allclose(adv, attack["adv_image"][position, 0])
        label = attack["label"][position]
        assert top.get_title() == f"#{attack['index'][position]} label {label}\ng: {label}"
        fresh = attack["adv_prediction"][position]
        shown = "abstain" if fresh == -1 else str(fresh)
        want = f"fresh g: {shown}\nL0 = {attack['query_l0'][position]:g}"
        if fresh == label:
            want += "\nnot adversarial on a fresh query"
        assert bottom.get_title() == want


@pytest.mark.parametrize("planted", [None, "clean images drawn as adversarial"])
def test_attack_figure_shows_clean_and_adversarial_images(drawn, tmp_path, planted):
    attack = attack_record()
    positions = [0, 1, 2]
    shown = WrongColumn(attack) if planted else attack
    figures.plot_adversarial_examples(shown, np.array(positions), tmp_path / "a.png", "t", 3)
    holds_unless_planted(planted, check_attack_figure, drawn[0], attack, positions)
