"""The reference run's Table 2: each attacked model's cells with intervals beside the paper's row.

Written with it: the Table 2 of the run, the per-image attacks and the unprotected CNN's training
history (the smoothed classifier's attack too where attack.smoothed is on).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from .attack_report import smoothed_model_name, unprotected_model_name
from .files import write_csv
from .layout import (
    REFERENCE_SMOOTHED_ATTACK,
    REFERENCE_TABLE2_COPIES,
    REFERENCE_TABLE2_SUMMARY,
    REFERENCE_UNPROTECTED,
)
from .reference import attack_summary, export_files

# Our unprotected CNN stands beside the paper's own unprotected CNN (Schott et al.'s), the
# nearest printed row; the two models differ (the README says how).
CNN_PAPER_ROW = "CNN"


def paper_row(paper: pd.DataFrame, model: str) -> tuple[dict, str]:
    """The paper's Table 2 values of `model` and a label naming their source (none if absent)."""
    if model not in paper.index:
        return {}, "none (the paper has no such row)"
    row = paper.loc[model]
    return row.to_dict(), f"{model} ({row['source']})"


def table2_summary(
    paper: pd.DataFrame,
    unprotected: pd.DataFrame,
    baseline_k: int,
    smoothed: pd.DataFrame | None = None,
    k: int | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Table 2's cells with intervals: the unprotected CNN's, then the smoothed classifier's.

    `paper` is the paper's Table 2 indexed by model; `unprotected` and `smoothed` are per-image
    attack tables (`attack_report.attack_table`), the smoothed one of the classifier at `k`.
    """
    summaries = [
        attack_summary(
            unprotected,
            unprotected_model_name(baseline_k),
            *paper_row(paper, CNN_PAPER_ROW),
            confidence,
        )
    ]
    if smoothed is not None:
        name = smoothed_model_name(k)
        summaries.append(attack_summary(smoothed, name, *paper_row(paper, name), confidence))
    return pd.concat(summaries, ignore_index=True)


def export_table2(
    out_dir: str | os.PathLike,
    *,
    paper: str | os.PathLike,
    table2: str | os.PathLike,
    attack: str | os.PathLike,
    model: str | os.PathLike,
    baseline_k: int,
    confidence: float,
    smoothed: str | os.PathLike | None = None,
    k: int | None = None,
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Write summary_table2.csv, the unprotected CNN's training and copies of the run's files.

    `paper` is the paper's Table 2 CSV, `table2` the run's, `attack` the unprotected CNN's
    per-image attack CSV and `model` its model file; `smoothed` the per-image attack CSV of the
    smoothed classifier at `k`, if attacked. Returns the summary.
    """
    log = log or logging.getLogger(__name__)
    smoothed_attack = None if smoothed is None else pd.read_csv(smoothed)
    paper_table = pd.read_csv(paper).set_index("model")
    summary = table2_summary(
        paper_table, pd.read_csv(attack), baseline_k, smoothed_attack, k, confidence
    )
    copies = dict(zip(REFERENCE_TABLE2_COPIES, (table2, attack), strict=True))
    if smoothed is not None:
        copies[REFERENCE_SMOOTHED_ATTACK.format(k=k)] = smoothed
    write_csv(summary, Path(out_dir) / REFERENCE_TABLE2_SUMMARY)
    written = export_files(out_dir, {REFERENCE_UNPROTECTED: model}, copies)
    log.info("\n%s\nwrote %s", summary.to_string(index=False), ", ".join(map(str, written)))
    return summary
