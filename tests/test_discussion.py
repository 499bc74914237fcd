"""The Discussion's numbers and the explanatory figures, against independent computations."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO
from scipy import stats

from randablate import discussion, figures, illustrations


def test_eq21_equals_the_entropy_of_the_noise_channel():
    # I(X; Y) = H(Y) - H(Y | X) per pixel: Y is uniform (X is), Y | X keeps X w.p. kappa.
    levels, kappa = 256, 0.1
    h_y = math.log2(levels)
    h_y_given_x = stats.entropy([kappa] + [(1 - kappa) / (levels - 1)] * (levels - 1), base=2)
    d = 3 * 224 * 224
    assert discussion.mutual_information_noise(d, kappa) == pytest.approx(d * (h_y - h_y_given_x))
    assert discussion.mutual_information_noise(d, kappa) == pytest.approx(50590.4, abs=0.05)
    assert discussion.mutual_information_ablation(14521) == 116168


@pytest.mark.parametrize(("p", "d"), [(0.7, 784), (0.51, 50), (0.99, 30), (0.596, 2000)])
def test_largest_k_certifying_matches_brute_force(p, d):
    # Delta(1) = 1 - C(d-1, k) / C(d, k) = k / d, in exact rational arithmetic.
    exact = [k for k in range(1, d + 1) if Fraction(p) - (1 - Fraction(d - k, d)) > Fraction(1, 2)]
    assert discussion.largest_k_certifying(p, d) == max(exact, default=0)


def test_largest_k_certifying_one_pixel_at_imagenet_scale():
    d = 3 * 224 * 224
    k = discussion.largest_k_certifying(0.596, d)
    assert 0.596 - k / d > 0.5 >= 0.596 - (k + 1) / d


def test_discussion_table_reproduces_the_papers_information_numbers():
    paper = pd.read_csv(REPO / "resources/paper/discussion_constants.csv")
    table = discussion.discussion_table(paper).set_index("quantity")
    info = table[table.index.str.startswith("I_")]
    assert (info["difference"].abs() < 0.05).all()
    p = table.loc["vote share above which k = 14521 certifies 1 pixel", "ours"]
    assert round(p, 3) == 0.596  # the paper's printed, rounded value


def test_discussion_cells_are_its_constants_beside_the_papers():
    paper = pd.read_csv(REPO / "resources/paper/discussion_constants.csv")
    table = discussion.discussion_table(paper)
    cells = discussion.discussion_cells(table)
    assert cells["row"].tolist() == table["quantity"].tolist()
    assert set(cells["table"]) == {"discussion"} and set(cells["quantity"]) == {"value"}
    assert set(cells["kind"]) == {"constant"} and cells["n"].isna().all()
    assert cells["paper"].tolist() == [14521, 0.596, 116168, 50590.4]
    assert cells["ours"].tolist() == table["ours"].tolist()


def test_the_one_pixel_limit_comes_from_the_papers_constants():
    paper = pd.read_csv(REPO / "resources/paper/discussion_constants.csv")
    table = discussion.discussion_table(paper)
    assert table["quantity"].tolist()[:3] == [
        "largest k certifying 1 pixel at p = 0.596 (d = 3*224*224)",
        "vote share above which k = 14521 certifies 1 pixel",
        "I_ablate bits, Eq. 20 (k = 14521, 256 levels)",
    ]
    assert table["paper"].tolist()[:3] == [14521, 0.596, 116168]
    # Other printed constants give other rows: nothing of the paper is hard-coded.
    other = paper.copy()
    other.loc[other["quantity"].str.startswith("largest k certifying"), "value"] = "1000"
    other.loc[other["quantity"].str.startswith("vote share p"), "value"] = "0.7"
    table = discussion.discussion_table(other).set_index("quantity")
    d = 3 * 224 * 224
    assert table.loc["largest k certifying 1 pixel at p = 0.7 (d = 3*224*224)", "ours"] == (
        discussion.largest_k_certifying(0.7, d)
    )
    assert table.loc["I_ablate bits, Eq. 20 (k = 1000, 256 levels)", "ours"] == 8000
    with pytest.raises(ValueError, match="vote share p"):
        discussion.discussion_table(paper[~paper["quantity"].str.startswith("vote share p")])


def test_null_encoding_panels_keep_exactly_k_pixels_unchanged():
    image = torch.rand(1, 28, 28)
    panels = illustrations.null_encodings(image, 85, 0.13, 4)
    original, unique, as_mean, _ = panels.values()
    assert np.array_equal(original[..., 0], image[0].numpy())
    kept = (unique == original).all(axis=2)
    assert kept.sum() == 85
    assert np.allclose(as_mean[~kept], 0.13) and np.array_equal(as_mean[kept], original[kept])


def test_explanatory_figures_are_written(tmp_path):
    figures.plot_delta([5, 45, 100], tmp_path / "f2.png")
    panels = illustrations.null_encodings(torch.rand(1, 28, 28), 85, 0.13, 0)
    figures.plot_null_encodings(panels, tmp_path / "f4.png")
    for name in ("f2.png", "f4.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
