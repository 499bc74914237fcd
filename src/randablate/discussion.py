"""The numbers of the paper's Discussion, computed: information per sample and one-pixel limits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import certificates
from .tables import Printed, cells

IMAGENET_CHANNEL_PIXELS = 3 * 224 * 224  # Lee et al. count each colour channel as a pixel


def mutual_information_ablation(k: int, levels: int = 256) -> float:
    """Eq. 20: bits about a uniformly distributed image seen in one ablated sample (k kept)."""
    return k * math.log2(levels)


def mutual_information_noise(d: int, kappa: float, levels: int = 256) -> float:
    """Eq. 21: bits seen in one of Lee et al.'s noised samples (each pixel kept w.p. kappa)."""
    if not 0.0 < kappa < 1.0:
        raise ValueError(f"kappa must be in (0, 1), got {kappa}")
    per_pixel = (
        math.log2(levels)
        + kappa * math.log2(kappa)
        + (1.0 - kappa) * math.log2((1.0 - kappa) / (levels - 1))
    )
    return d * per_pixel


def largest_k_certifying(p: float, d: int, rho: int = 1) -> int:
    """The largest k for which a vote share p certifies rho pixels (0 if none does)."""
    lo, hi = 0, d  # p - delta(rho, d, k) grows as k shrinks: bisect on k
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if p - certificates.delta(rho, d, mid) > 0.5:
            lo = mid
        else:
            hi = mid - 1
    return lo


def smallest_p_certifying(k: int, d: int, rho: int = 1) -> float:
    """The vote share above which k retained pixels certify rho pixels: 0.5 + delta(rho)."""
    return 0.5 + float(certificates.delta(rho, d, k))


def discussion_table(paper: pd.DataFrame) -> pd.DataFrame:
    """The Discussion's computable quantities beside the paper's printed values.

    `paper` holds the printed constants (resources/paper/discussion_constants.csv: quantity,
    value); its one-pixel limit (k and the vote share p) also sets the quantities computed.
    """
    paper_values = dict(zip(paper["quantity"], paper["value"], strict=True))

    def printed(prefix: str) -> object:
        matches = [v for q, v in paper_values.items() if str(q).startswith(prefix)]
        return matches[0] if matches else np.nan

    def given(prefix: str) -> float:
        value = pd.to_numeric(printed(prefix), errors="coerce")
        if np.isnan(value):
            raise ValueError(f"the paper's constants lack a value for {prefix!r}")
        return float(value)

    d = IMAGENET_CHANNEL_PIXELS
    k_paper = int(given("largest k certifying 1 pixel"))
    p_paper = given("vote share p of the one-pixel limit")
    rows = [
        {
            "quantity": f"largest k certifying 1 pixel at p = {p_paper:g} (d = 3*224*224)",
            "ours": largest_k_certifying(p_paper, d),
            "paper": printed("largest k certifying 1 pixel"),
            "note": f"p - k/d > 0.5; the paper's {k_paper} needs p above the next row's value",
        },
        {
            "quantity": f"vote share above which k = {k_paper} certifies 1 pixel",
            "ours": round(smallest_p_certifying(k_paper, d), 6),
            "paper": printed("vote share p of the one-pixel limit"),
            "note": f"the paper prints p rounded to {p_paper:g}",
        },
        {
            "quantity": f"I_ablate bits, Eq. 20 (k = {k_paper}, 256 levels)",
            "ours": mutual_information_ablation(k_paper),
            "paper": printed("I_ablate"),
            "note": "8 bits per retained pixel",
        },
        {
            "quantity": "I_Lee bits, Eq. 21 (d = 3*224*224, kappa = 0.1, 256 levels)",
            "ours": round(mutual_information_noise(d, 0.1), 1),
            "paper": printed("I_Lee"),
            "note": "uniformly distributed images, as the paper assumes",
        },
    ]
    table = pd.DataFrame(rows)
    table["paper"] = pd.to_numeric(table["paper"], errors="coerce")
    table["difference"] = table["ours"] - table["paper"]
    return table


def discussion_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The cells of the Discussion's table: computed constants beside the paper's."""
    return cells(table, "discussion", "{quantity}", {"value": Printed("constant", "ours", "paper")})
