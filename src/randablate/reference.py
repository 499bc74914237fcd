"""A reference run's results, as checked in: our cells with 95% intervals beside the paper's.

`reference_summary` turns per-image certificate tables into one row per printed quantity
(accuracy, abstentions, median certificate) with a two-sided interval at `confidence`:
Clopper–Pearson for the percentages, and for the median the distribution-free interval between
two order statistics (the number of images at or above the true median is binomial(N, 1/2)).
`export_reference` writes everything a reader needs to check the run without rerunning it.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from . import certificates
from .attack_report import median_magnitude
from .datasets import DATASETS
from .files import atomic_path, write_csv
from .layout import (
    REFERENCE_CERTIFICATES,
    REFERENCE_PROVENANCE,
    REFERENCE_SCORECARD,
    REFERENCE_SUMMARY,
    REFERENCE_TABLE,
    REFERENCE_TRAINING,
    ReferenceExport,
)
from .scorecard import Tolerance, proportion_interval, read_cells, scorecard
from .tables import K_ROW, STAGES, TABLE8_ROW, read_certificates, summarize

__all__ = [
    "attack_summary",
    "export_files",
    "export_reference",
    "export_run",
    "median_interval",
    "paper_values",
    "reference_summary",
]


def median_interval(robustness: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Order-statistic interval for the paper's median certificate (ρ reached by half)."""
    r = np.sort(np.asarray(robustness, dtype=np.float64).ravel())[::-1]
    n = r.size
    if n == 0:
        raise ValueError("robustness is empty")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    # The median m is the ceil(n/2)-th largest value. With B = #{images >= true median} ~
    # binomial(n, 1/2), the j-th largest value lies at or below it and the i-th largest at or
    # above it with probability >= confidence for ranks i <= ceil(n/2) <= j chosen from B's tails.
    tail = (1.0 - confidence) / 2.0
    i = max(int(stats.binom.ppf(tail, n, 0.5)), 1)
    j = min(int(stats.binom.isf(tail, n, 0.5)) + 1, n)
    return float(r[j - 1]), float(r[i - 1])


def _median_text(value: float) -> float:
    """A median of minus infinity (the median image is not certified) as NaN, the paper's N/A."""
    return math.nan if value == -math.inf else value


def paper_values(cells: pd.DataFrame) -> dict[tuple[str, str], dict[str, float]]:
    """The paper's printed values in a tables' cells file, by (table, row), then quantity."""
    paper: dict[tuple[str, str], dict[str, float]] = {}
    for cell in cells.to_dict("records"):
        paper.setdefault((cell["table"], cell["row"]), {})[cell["quantity"]] = cell["paper"]
    return paper


def reference_summary(
    certs_by_row: Mapping[tuple[str, str], pd.DataFrame],
    paper: Mapping[tuple[str, str], Mapping[str, float]],
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per (table, row, quantity): ours, its interval, the paper's value, images."""
    rows = []
    for (table, row), certs in certs_by_row.items():
        n = len(certs)
        printed = paper.get((table, row), {})
        summary = summarize(certs)
        correct, abstained = summary["accuracy_pct"], summary["abstained_pct"]
        robustness = certs["robustness"].to_numpy(np.float64)
        median = certificates.median_certified_robustness(robustness)
        low, high = median_interval(robustness, confidence)
        cells = [
            ("accuracy_pct", correct, *proportion_interval(correct, n, confidence)),
            ("abstained_pct", abstained, *proportion_interval(abstained, n, confidence)),
            ("median_certified_robustness_pixels", median, low, high),
        ]
        rows += _interval_rows(table, row, cells, printed, n)
    return pd.DataFrame(rows)


def _interval_rows(
    table: str,
    row: str,
    cells: list[tuple[str, float, float, float]],
    printed: Mapping[str, float],
    images: int,
    **extra: object,
) -> list[dict[str, object]]:
    """One summary row per (quantity, ours, low, high) cell, beside the printed value."""
    rows = []
    for quantity, ours, lo, hi in cells:
        theirs = float(printed.get(quantity, math.nan))
        rows.append(
            {
                "table": table,
                "row": row,
                "quantity": quantity,
                "ours": _median_text(ours),
                "ours_low": _median_text(lo),
                "ours_high": _median_text(hi),
                "paper": theirs,
                **extra,
                "paper_inside": bool(lo - 1e-9 <= theirs <= hi + 1e-9),
                "images": images,
            }
        )
    return rows


def attack_summary(
    attack: pd.DataFrame,
    row: str,
    paper: Mapping[str, float],
    paper_row: str,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Table 2's cells of one attacked model with intervals, beside a paper row's values.

    Accuracy is over the attacked images (Clopper–Pearson); the median verified attack
    magnitude (unbroken images count as infinity) gets the order-statistic interval.
    """
    n = len(attack)
    correct = 100.0 * float((attack["clean_prediction"] == attack["label"]).mean())
    l0 = attack["attack_l0"].to_numpy(np.float64)
    cells = [
        ("accuracy_pct", round(correct, 2), *proportion_interval(correct, n, confidence)),
        ("median_attack_magnitude_pixels", median_magnitude(l0), *median_interval(l0, confidence)),
    ]
    return pd.DataFrame(_interval_rows("table2", row, cells, paper, n, paper_row=paper_row))


def _history(model_path: str | os.PathLike) -> pd.DataFrame:
    """A model file's training history, one row per epoch."""
    import torch  # lazily: the rest of this module runs without torch's start-up

    blob = torch.load(model_path, map_location="cpu", weights_only=True)
    return pd.DataFrame(blob["meta"]["history"])


def export_reference(
    out_dir: str | os.PathLike,
    summary: pd.DataFrame,
    certificates_by_name: Mapping[str, str | os.PathLike],
    models_by_name: Mapping[str, str | os.PathLike],
    copies: Mapping[str, str | os.PathLike],
) -> list[Path]:
    """Write the summary, each model's certificates and training history, and the copies.

    The files are named as randablate.layout names them (summary.csv, certificates_<name>.csv.gz,
    training_<name>.csv), the names the workflow expects.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / REFERENCE_SUMMARY]
    write_csv(summary, written[0])
    keep = ["index", "label", "guess", "p_lower", "radius", "robustness", "prediction"]
    for name, path in certificates_by_name.items():
        certs = pd.read_csv(path)
        counts = [c for c in certs.columns if c.split("_")[0] in STAGES]
        target = out / REFERENCE_CERTIFICATES.format(name=name)
        write_csv(certs[[c for c in keep if c in certs.columns] + counts], target, gzip=True)
        written.append(target)
    return written + export_files(out, models_by_name, copies)


def export_files(
    out_dir: str | os.PathLike,
    models_by_name: Mapping[str, str | os.PathLike],
    copies: Mapping[str, str | os.PathLike],
) -> list[Path]:
    """Write each model's training history (layout.REFERENCE_TRAINING) and the copies."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, path in models_by_name.items():
        target = out / REFERENCE_TRAINING.format(name=name)
        write_csv(_history(path), target)
        written.append(target)
    for name, path in copies.items():
        target = out / name
        with atomic_path(target) as tmp:
            shutil.copyfile(path, tmp)
        written.append(target)
    return written


def _row_label(table: int, k: int, encoding: str) -> str:
    """An exported MNIST model's row in Table 1 (k=<k>) or Table 8 (MNIST k=<k> <encoding>)."""
    if table == 8:
        return TABLE8_ROW.format(dataset=DATASETS["mnist"].title, k=k, encoding=encoding)
    return K_ROW.format(k=k)


def export_run(
    out_dir: str | os.PathLike,
    export: ReferenceExport,
    certificate_files: Sequence[str | os.PathLike],
    model_files: Sequence[str | os.PathLike],
    tables: Sequence[str | os.PathLike],
    cells: Sequence[str | os.PathLike],
    provenance: str | os.PathLike,
    tolerance: Tolerance,
    scale: str,
) -> pd.DataFrame:
    """Write one checked-in export (layout.ReferenceExport) of a run; return its summary.

    The summary holds each row's cells with intervals at `tolerance.confidence` beside the paper's
    values (read from the tables' `cells`), the scorecard is those cells', and each model's
    certificates and training history are written beside the copied tables and provenance.
    """
    models = export.models
    certs = dict(zip(models, certificate_files, strict=True))
    frames = {name: read_certificates(path) for name, path in certs.items()}
    by_row = {
        (f"table{table}", _row_label(table, *models[name])): frames[name]
        for table, name in export.rows
    }
    paper_cells = read_cells(cells)
    summary = reference_summary(by_row, paper_values(paper_cells), tolerance.confidence)
    copies = {
        REFERENCE_TABLE.format(number=n): path
        for n, path in zip(export.tables, tables, strict=True)
    }
    copies[REFERENCE_PROVENANCE] = provenance
    export_reference(out_dir, summary, certs, dict(zip(models, model_files, strict=True)), copies)
    write_csv(scorecard(paper_cells, tolerance, scale), Path(out_dir) / REFERENCE_SCORECARD)
    return summary
