"""The reproduction scorecard: every number the paper prints beside ours, and whether they agree.

It reads the tables' cells (long format, one row per number the paper prints; written beside
each table by its rule, see `randablate.tables.cells`): `table, row, quantity, kind, ours, paper,
n`. Agreement is judged by the cell's kind:

- `pct`: the paper's value must lie inside our two-sided Clopper–Pearson interval for the
  proportion (count = round(pct * n / 100)), widened by `pct_points` on each side;
- `median` (certificates, attack magnitudes): |ours − paper| <= `median_pixels`; the paper's
  N/A (NA) matches only our NA and vice versa;
- `constant` (the Discussion's computed numbers): |ours − paper| <= `relative_constant` times
  |paper|.

A cell over fewer than `min_images` images (n) is not scored: `within` is false and `tolerance`
says why. A cell without n (a constant) is always scored.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from scipy import special

__all__ = [
    "CELL_COLUMNS",
    "KINDS",
    "TABLE_ORDER",
    "Tolerance",
    "proportion_interval",
    "read_cells",
    "scorecard",
    "summary",
    "summary_text",
]

TABLE_ORDER = (
    "table1",
    "table2",
    "table3",
    "table4",
    "table5",
    "table6",
    "table7",
    "table8",
    "discussion",
)
CELL_COLUMNS = ("table", "row", "quantity", "kind", "ours", "paper", "n")
KINDS = ("pct", "median", "constant")
COLUMNS = (
    "table",
    "row",
    "quantity",
    "paper",
    "ours",
    "difference",
    "ours_low",
    "ours_high",
    "tolerance",
    "within",
    "scale",
)
_EPS = 1e-9  # float slack so that a paper value exactly on a tolerance edge counts as inside


@dataclass(frozen=True)
class Tolerance:
    """How far our value may be from the paper's and still count as reproducing it."""

    pct_points: float = 2.0  # slack around our Clopper–Pearson interval (percentage points)
    median_pixels: int = 1  # allowed |difference| of a median certificate or attack magnitude
    confidence: float = 0.95  # two-sided level of our Clopper–Pearson interval
    relative_constant: float = 0.005  # relative tolerance for computed constants
    min_images: int = 1  # cells over fewer images are not scored (the config's default is 50)

    def __post_init__(self) -> None:
        """Reject negative slacks and confidence levels outside (0, 1)."""
        if not self.pct_points >= 0:
            raise ValueError(f"pct_points must be >= 0, got {self.pct_points}")
        if not self.median_pixels >= 0:
            raise ValueError(f"median_pixels must be >= 0, got {self.median_pixels}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if not self.relative_constant >= 0:
            raise ValueError(f"relative_constant must be >= 0, got {self.relative_constant}")
        if not self.min_images >= 1:
            raise ValueError(f"min_images must be >= 1, got {self.min_images}")


def proportion_interval(pct: float, n: int, confidence: float) -> tuple[float, float]:
    """Clopper–Pearson interval, in percent, for count = round(pct * n / 100) out of n."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = int(n)
    count = math.floor(float(pct) * n / 100.0 + 0.5)
    if not 0 <= count <= n:
        raise ValueError(f"{pct}% of {n} is not a count between 0 and {n}")
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if count == 0 else float(special.betaincinv(count, n - count + 1, tail))
    high = 1.0 if count == n else float(special.betaincinv(count + 1, n - count, 1.0 - tail))
    return 100.0 * low, 100.0 * high


def _percentage(
    ours: float, paper: float, n: float, tolerance: Tolerance
) -> tuple[float, float, str, bool]:
    """Interval, tolerance text and verdict of a percentage cell."""
    level = f"{100 * tolerance.confidence:g}%"
    slack = f"± {tolerance.pct_points:g} points"
    if math.isnan(ours):
        return (
            math.nan,
            math.nan,
            f"ours missing; paper inside our {level} CP interval {slack}",
            False,
        )
    if math.isnan(n) or n < 1:
        low = high = ours
        text = f"|difference| <= {tolerance.pct_points:g} points (no image count: no CP interval)"
    else:
        low, high = proportion_interval(ours, int(n), tolerance.confidence)
        text = f"paper inside our {level} CP interval [{low:.2f}, {high:.2f}] {slack}"
    within = low - tolerance.pct_points - _EPS <= paper <= high + tolerance.pct_points + _EPS
    return low, high, text, bool(within)


def _median(ours: float, paper: float, tolerance: Tolerance) -> tuple[float, float, str, bool]:
    """No interval (NaN: a cell holds no per-image values), tolerance text and verdict of a
    median cell; N/A matches only N/A."""
    pixels = tolerance.median_pixels
    text = f"|difference| <= {pixels:g} pixel{'' if pixels == 1 else 's'}; N/A matches only N/A"
    if math.isnan(ours) or math.isnan(paper):
        within = math.isnan(ours) and math.isnan(paper)
    elif math.isinf(ours) or math.isinf(paper):
        within = ours == paper
    else:
        within = abs(ours - paper) <= pixels + _EPS
    return math.nan, math.nan, text, bool(within)


def _constant(ours: float, paper: float, tolerance: Tolerance) -> tuple[float, float, str, bool]:
    """No interval (NaN: a constant is computed, not sampled), tolerance text and verdict."""
    text = f"|difference| <= {100 * tolerance.relative_constant:g}% of the paper's value"
    if math.isnan(ours):
        return math.nan, math.nan, text, False
    within = abs(ours - paper) <= tolerance.relative_constant * abs(paper) + _EPS
    return math.nan, math.nan, text, bool(within)


def _judged(cell: dict, tolerance: Tolerance, scale: str) -> dict:
    """The scorecard row of one cell: interval, tolerance text and verdict by its kind."""
    ours, paper, n = (float(cell[c]) for c in ("ours", "paper", "n"))
    kind = cell["kind"]
    if kind != "median" and math.isnan(paper):
        raise ValueError(f"{cell['table']} {cell['row']} {cell['quantity']}: no paper value")
    if kind == "pct":
        low, high, text, within = _percentage(ours, paper, n, tolerance)
    elif kind == "median":
        low, high, text, within = _median(ours, paper, tolerance)
    else:
        low, high, text, within = _constant(ours, paper, tolerance)
    if n < tolerance.min_images:
        text = (
            f"not scored: {n:g} images, fewer than min_images = "
            f"{tolerance.min_images} (too few to confirm or refute the paper)"
        )
        within = False
    return {
        "table": cell["table"],
        "row": cell["row"],
        "quantity": cell["quantity"],
        "paper": paper,
        "ours": ours,
        "difference": ours - paper,
        "ours_low": low,
        "ours_high": high,
        "tolerance": text,
        "within": bool(within),
        "scale": scale,
    }


def read_cells(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """The cells files of the tables, in the given order, as one frame."""
    text = {column: str for column in ("table", "row", "quantity", "kind")}
    frames = [pd.read_csv(path, dtype=text) for path in paths]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame(columns=list(CELL_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def scorecard(
    cells: pd.DataFrame, tolerance: Tolerance = Tolerance(), scale: str = "paper"
) -> pd.DataFrame:
    """Return one row per cell: paper, ours, difference, interval, verdict; tables in order."""
    missing = [column for column in CELL_COLUMNS if column not in cells.columns]
    if missing:
        raise ValueError(f"cells lack the columns {missing}")
    unknown = sorted(set(cells["table"]) - set(TABLE_ORDER))
    if unknown:
        raise ValueError(f"unknown tables {unknown}; expected some of {list(TABLE_ORDER)}")
    kinds = sorted(set(cells["kind"]) - set(KINDS))
    if kinds:
        raise ValueError(f"unknown kinds {kinds}; expected some of {list(KINDS)}")
    order = cells["table"].map(TABLE_ORDER.index)
    ordered = cells.iloc[order.argsort(kind="stable")]
    rows = [_judged(cell, tolerance, scale) for cell in ordered.to_dict("records")]
    card = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("paper", "ours", "difference", "ours_low", "ours_high"):
        card[column] = card[column].astype(float)
    card["within"] = card["within"].astype(bool)
    return card


def summary(card: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Cells and cells within tolerance per table (in the paper's order) and in "total"."""
    out: dict[str, dict[str, int]] = {}
    order = [t for t in TABLE_ORDER if t in set(card["table"])]
    order += sorted(set(card["table"]) - set(order))
    for name in order:
        within = card.loc[card["table"] == name, "within"]
        out[name] = {"cells": len(within), "within": int(within.sum())}
    out["total"] = {"cells": len(card), "within": int(card["within"].sum())}
    return out


def summary_text(card: pd.DataFrame) -> str:
    """The scorecard's summary in a few lines: cells within tolerance per table and in total."""
    counts = summary(card)
    total = counts.pop("total")
    lines = [
        f"Reproduction scorecard: {total['within']} of {total['cells']} cells within tolerance"
    ]
    lines += [f"  {name}: {c['within']} of {c['cells']}" for name, c in counts.items()]
    return "\n".join(lines)


def run_summary(card_path: str | os.PathLike, results_dir: str) -> str:
    """What a successful run prints last: the scorecard's summary, if built, and the report."""
    lines = []
    if os.path.exists(card_path):
        lines.append(f"{summary_text(pd.read_csv(card_path))} ({card_path})")
    where = f"the results in {results_dir}"
    lines.append(f"Report: rerun the same command with --report report.html ({where}).")
    return "\n".join(lines)
