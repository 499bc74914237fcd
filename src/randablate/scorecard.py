"""The reproduction scorecard: every number the paper prints beside ours, and whether they agree.

Each input table (the pipeline's table CSVs, keyed "table1" ... "table8", "discussion") holds our
value columns and, for each, a `paper_<column>` column with the paper's number (NA: no number).
One scorecard row per cell the paper prints. Agreement is judged by kind of quantity:

- percentages (`*_pct`): the paper's value must lie inside our two-sided Clopper–Pearson interval
  for the proportion (count = round(pct * images / 100)), widened by `pct_points` on each side;
- medians (certificates, attack magnitudes): |ours − paper| <= `median_pixels`; the paper's
  N/A (NA) matches only our NA (a median of −inf, written NA) and vice versa;
- computed constants (discussion) and any other number: |ours − paper| <= `relative_constant`
  times |paper|.

A cell measured on fewer than `min_images` images (its count column, else `images`) is not
scored: `within` is false and `tolerance` says why. A row whose paper columns are all NA is not
in the paper and is left out; so are Table 2's rows quoted from Schott et al. (and the paper's
own row) and Table 7's Lee et al. column (not ours).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "TABLE_ORDER",
    "Tolerance",
    "proportion_interval",
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
KEYS = {
    "table1": ("k",),
    "table2": ("model",),
    "table3": ("k",),
    "table4": ("k",),
    "table5": ("k",),
    "table6": ("k",),
    "table7": ("dataset",),
    "table8": ("dataset", "k", "encoding"),
    "discussion": ("quantity",),
}
SKIPPED_COLUMNS = {"table7": ("lee_et_al_2019_median_certified",)}  # quoted from Lee et al.
PLAIN_KEYS = ("model", "dataset", "encoding", "quantity")  # printed without "name="
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


def _number(value: object) -> float:
    """Return a cell as a float (NaN for NA); "~32" and "1,000" read as 32 and 1000."""
    if value is None or value is pd.NA:
        return math.nan
    if isinstance(value, str):
        value = value.strip().lstrip("~").replace(",", "")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return out


def _key_text(value: object) -> str:
    """Print a key cell: integral numbers without a decimal point."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _row_label(table: str, record: Mapping[str, object]) -> str:
    """A readable row key such as "k=45" or "MNIST k=45 mean"."""
    parts = []
    for key in KEYS[table]:
        text = _key_text(record[key])
        parts.append(text if key in PLAIN_KEYS else f"{key}={text}")
    return " ".join(parts)


def _normalized(name: object) -> str:
    """A model name without case or whitespace, for matching ours to the paper's rows."""
    return re.sub(r"\s+", "", str(name)).lower()


def _is_measured(record: Mapping[str, object]) -> bool:
    """Whether a Table 2 row is our measurement (not quoted from Schott et al. or the paper)."""
    kind = record.get("kind")
    if isinstance(kind, str):
        return kind.strip().lower() == "measured"
    source = str(record.get("source", "")).lower()
    if "quoted" in source or "in the paper" in source or "levine" in source:
        return False
    return "measured" in source or "this run" in source


def _table2_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Our Table 2 rows; without paper_ columns, the paper's values come from its quoted rows."""
    records = table.to_dict("records")
    measured = [r for r in records if _is_measured(r)]
    out = pd.DataFrame(measured, columns=table.columns)
    if any(c.startswith("paper_") for c in table.columns):
        return out
    printed = {_normalized(r["model"]): r for r in records if not _is_measured(r)}
    for column in ("accuracy_pct", "median_attack_magnitude"):
        if column in table.columns:
            out[f"paper_{column}"] = [
                printed.get(_normalized(r["model"]), {}).get(column, math.nan) for r in measured
            ]
    return out


def _value_columns(name: str, table: pd.DataFrame) -> list[str]:
    """Our value columns that the paper prints (those with a paper_ counterpart), in order."""
    if name == "discussion" and "paper_value" not in table.columns:
        return ["ours"] if "paper" in table.columns else []
    columns = []
    for column in table.columns:
        if not column.startswith("paper_"):
            continue
        ours = column.removeprefix("paper_")
        if ours not in table.columns:
            raise ValueError(f"{name}: {column} has no column {ours} of ours beside it")
        if ours not in SKIPPED_COLUMNS.get(name, ()):
            columns.append(ours)
    return sorted(columns, key=list(table.columns).index)


def _count_column(column: str, table: pd.DataFrame) -> str | None:
    """The column holding the number of images a percentage is over (train_images for train_)."""
    prefix = column.split("_", 1)[0]
    if f"{prefix}_images" in table.columns:
        return f"{prefix}_images"
    return "images" if "images" in table.columns else None


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
    """Interval (ours ± 0), tolerance text and verdict of a median cell; NA matches only NA."""
    pixels = tolerance.median_pixels
    text = f"|difference| <= {pixels:g} pixel{'' if pixels == 1 else 's'}; N/A matches only N/A"
    if math.isnan(ours) or math.isnan(paper):
        return ours, ours, text, math.isnan(ours) and math.isnan(paper)
    if math.isinf(ours) or math.isinf(paper):
        return ours, ours, text, ours == paper
    return ours, ours, text, abs(ours - paper) <= pixels + _EPS


def _constant(ours: float, paper: float, tolerance: Tolerance) -> tuple[float, float, str, bool]:
    """Interval (ours ± 0), tolerance text and verdict of a computed constant."""
    text = f"|difference| <= {100 * tolerance.relative_constant:g}% of the paper's value"
    if math.isnan(ours):
        return math.nan, math.nan, text, False
    within = abs(ours - paper) <= tolerance.relative_constant * abs(paper) + _EPS
    return ours, ours, text, bool(within)


def _cells(name: str, table: pd.DataFrame, tolerance: Tolerance, scale: str) -> list[dict]:
    """The scorecard rows of one table, in row then column order."""
    if name == "table2":
        table = _table2_rows(table)
    missing = [key for key in KEYS[name] if key not in table.columns]
    if missing:
        raise ValueError(f"{name}: key columns {missing} missing")
    columns = _value_columns(name, table)
    if name == "discussion":
        paper_of = {c: ("paper_value" if c == "value" else "paper") for c in columns}
    else:
        paper_of = {c: f"paper_{c}" for c in columns}
    rows = []
    for record in table.to_dict("records"):
        papers = {c: _number(record[paper_of[c]]) for c in columns}
        if all(math.isnan(p) for p in papers.values()):
            continue  # the paper has no such row
        label = _row_label(name, record)
        for column in columns:
            paper, ours = papers[column], _number(record[column])
            if column.endswith("_pct"):
                if math.isnan(paper):
                    continue
                count = _count_column(column, table)
                n = _number(record[count]) if count else math.nan
                low, high, text, within = _percentage(ours, paper, n, tolerance)
            elif "median" in column or (name == "discussion" and "median" in label):
                if ours == -math.inf:
                    ours = math.nan  # −inf: the median image is not certified (the paper's N/A)
                low, high, text, within = _median(ours, paper, tolerance)
            else:
                if math.isnan(paper):
                    continue
                low, high, text, within = _constant(ours, paper, tolerance)
            count = _count_column(column, table) if name != "discussion" else None
            images = _number(record[count]) if count else math.nan
            if images < tolerance.min_images:
                text = (
                    f"not scored: {images:g} images, fewer than min_images = "
                    f"{tolerance.min_images} (too few to confirm or refute the paper)"
                )
                within = False
            rows.append(
                {
                    "table": name,
                    "row": label,
                    "quantity": "value" if name == "discussion" else column,
                    "paper": paper,
                    "ours": ours,
                    "difference": ours - paper,
                    "ours_low": low,
                    "ours_high": high,
                    "tolerance": text,
                    "within": bool(within),
                    "scale": scale,
                }
            )
    return rows


def _check_scale(name: str, table: pd.DataFrame, scale: str) -> None:
    """Refuse a table built at another scale than the scorecard's."""
    if "scale" not in table.columns:
        return
    scales = {str(s) for s in table["scale"].dropna().unique()}
    if scales - {scale}:
        raise ValueError(f"{name} was built at scale {sorted(scales)}, not {scale!r}")


def scorecard(
    tables: Mapping[str, pd.DataFrame], tolerance: Tolerance = Tolerance(), scale: str = "paper"
) -> pd.DataFrame:
    """Return one row per number the paper prints: paper, ours, difference, interval, verdict."""
    unknown = sorted(set(tables) - set(TABLE_ORDER))
    if unknown:
        raise ValueError(f"unknown tables {unknown}; expected some of {list(TABLE_ORDER)}")
    rows: list[dict] = []
    for name in TABLE_ORDER:
        table = tables.get(name)
        if table is None:
            continue
        _check_scale(name, table, scale)
        rows.extend(_cells(name, table, tolerance, scale))
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
