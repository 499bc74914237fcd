"""A reference summary's cells, recomputed from per-image certificates without randablate."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint


def assert_summary_cells(ours: pd.DataFrame, certs: pd.DataFrame, paper: Mapping) -> None:
    """Check one row's cells (`ours`, indexed by quantity) against its certificates and paper.

    The percentages and the median are recomputed here, the percentages' intervals are
    statsmodels' Clopper–Pearson ones, and `paper_inside` must say whether the paper's value lies
    in our interval.
    """
    images = len(certs)
    robustness = np.sort(certs["robustness"].to_numpy())[::-1]
    recomputed = {
        "accuracy_pct": 100 * (certs["prediction"] == certs["label"]).mean(),
        "abstained_pct": 100 * (certs["prediction"] == -1).mean(),
        # the largest rho that at least half of the images reach
        "median_certified_robustness_pixels": robustness[(images + 1) // 2 - 1],
    }
    for quantity, value in recomputed.items():
        theirs = float(paper[quantity])
        assert ours.loc[quantity, "paper"] == pytest.approx(theirs, nan_ok=True), quantity
        if not np.isfinite(value):  # the median image is not certified: the paper's N/A
            assert np.isnan(ours.loc[quantity, "ours"]), quantity
            continue
        assert ours.loc[quantity, "ours"] == pytest.approx(value), quantity
        low, high = ours.loc[quantity, ["ours_low", "ours_high"]]
        assert low <= value <= high
        inside = low - 1e-9 <= theirs <= high + 1e-9
        assert bool(ours.loc[quantity, "paper_inside"]) == inside, quantity
    for quantity in ("accuracy_pct", "abstained_pct"):
        count = round(recomputed[quantity] * images / 100)
        interval = proportion_confint(count, images, alpha=0.05, method="beta")
        expected = [100 * bound for bound in interval]
        assert ours.loc[quantity, ["ours_low", "ours_high"]].tolist() == pytest.approx(expected)
