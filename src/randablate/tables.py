"""Turning per-image certificate tables into the paper's tables.

Certificate CSV (one row per test image, written by `certification.certificate_table`): index,
label, guess, p_lower, radius (−1: no radius), robustness, prediction (−1: abstain), correct, the
raw counts select_c, bound_c, predict_c for every class c, so every certificate can be recomputed
without a GPU, and prediction_stage (the vote stage the prediction came from). `robustness`
follows the paper and the authors' convention: −inf (written "-inf") where the certification
guess is not the label (the paper's N/A), 0 for a correct guess without a certified radius, else
the radius.

Beside each of the paper's tables its rule writes the table's cells (`cells`): one row per number
the paper prints, ours beside it, in the long format the scorecard reads.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from randablate import certificates

# certificate_table lives in randablate.certification (the one route to a certificate, shared with
# Smoothed.certify), STAGES in randablate.names; both are re-exported here for the table scripts.
from randablate.certification import STAGES, certificate_table, prediction_stage  # noqa: F401
from randablate.files import atomic_path
from randablate.scorecard import CELL_COLUMNS

MEDIAN = "median_certified_robustness_pixels"  # the median certified robustness, in pixels
# The label of a cell's row (the scorecard's `row`), made from the table row's columns.
K_ROW = "k={k}"  # Tables 1 and 3-6: one row per k
TABLE7_ROW = "{dataset}"
TABLE8_ROW = "{dataset} k={k} {encoding}"  # dataset: its title (DatasetInfo.title, "MNIST")


class Printed(NamedTuple):
    """A quantity the paper prints in a table: how it is compared and the columns holding it."""

    kind: str  # "pct", "median" or "constant" (randablate.scorecard.KINDS)
    ours: str  # the column of our value
    paper: str  # the column of the paper's value
    n: str | None = None  # the column of the number of images ours is over (None: none)


def _beside(column: str, kind: str, n: str | None = "images") -> Printed:
    """A quantity of ours in `column` with the paper's in `paper_<column>`."""
    return Printed(kind, column, f"paper_{column}", n)


def _value(value: object) -> float:
    """A table entry as a float; NA (None, pd.NA, NaN) as NaN."""
    return math.nan if pd.isna(value) else float(value)


def cells(table: pd.DataFrame, name: str, row: str, printed: Mapping[str, Printed]) -> pd.DataFrame:
    """The scorecard's cells of a table: one per row and printed quantity, ours beside the paper's.

    `row` makes a row's label from its columns (e.g. K_ROW). A row whose paper values are all NA
    is not in the paper and gives no cell, nor does a percentage or constant the paper does not
    print; a median the paper prints as N/A (NA) does. Our median of −inf (the median image
    is not certified) is written NA, the paper's N/A.
    """
    out = []
    for record in table.to_dict("records"):
        papers = {quantity: _value(record[p.paper]) for quantity, p in printed.items()}
        if all(math.isnan(value) for value in papers.values()):
            continue
        for quantity, p in printed.items():
            if p.kind != "median" and math.isnan(papers[quantity]):
                continue
            ours = _value(record[p.ours])
            if p.kind == "median" and ours == -math.inf:
                ours = math.nan
            out.append(
                {
                    "table": name,
                    "row": row.format(**record),
                    "quantity": quantity,
                    "kind": p.kind,
                    "ours": ours,
                    "paper": papers[quantity],
                    "n": _value(record[p.n]) if p.n else math.nan,
                }
            )
    return pd.DataFrame(out, columns=list(CELL_COLUMNS))


def read_certificates(path: str | os.PathLike) -> pd.DataFrame:
    """Read a certificate CSV written by `write_csv(certificate_table(...))`."""
    return pd.read_csv(path)


def stage_samples(certs: pd.DataFrame, stage: str) -> int:
    """Return the number of samples per image of `stage`, checking that all images agree."""
    columns = [c for c in certs.columns if c.startswith(f"{stage}_")]
    totals = certs[columns].sum(axis=1).unique()
    if len(totals) != 1:
        raise ValueError(f"images differ in their number of {stage} samples: {sorted(totals)}")
    return int(totals[0])


def _median(certs: pd.DataFrame) -> int | None:
    """The median certified robustness of a certificate table, in pixels (None: N/A)."""
    return certificates.median_or_na(certs["robustness"].to_numpy(float))


def summarize(certs: pd.DataFrame) -> dict[str, float | int | None]:
    """Return the Table 1 quantities of one model: accuracy, abstentions, median certificate."""
    if len(certs) == 0:
        raise ValueError("no certificate rows")
    return {
        "accuracy_pct": 100.0 * float((certs["prediction"] == certs["label"]).mean()),
        "abstained_pct": 100.0 * float((certs["prediction"] == -1).mean()),
        MEDIAN: _median(certs),
        "images": len(certs),
    }


def _rounded(ours: pd.DataFrame) -> pd.DataFrame:
    """Percentages to two decimals, as the paper prints them; medians as integers or NA."""
    ours = ours.copy()
    ours["accuracy_pct"] = ours["accuracy_pct"].round(2)
    ours["abstained_pct"] = ours["abstained_pct"].round(2)
    ours[MEDIAN] = ours[MEDIAN].astype("Int64")
    return ours


def certificate_summary(
    certs_by_k: Mapping[int, pd.DataFrame],
    paper: pd.DataFrame,
    alpha: float,
    scale: str,
) -> pd.DataFrame:
    """Return Table 1, 3 or 6 (one row per k, each paper column beside ours) from certificates.

    The training settings are the caption's (report/table*.rst), not repeated on every row.
    """
    rows = []
    for k in sorted(certs_by_k):
        certs = certs_by_k[k]
        row = {"k": int(k), **summarize(certs)}
        row["n0"] = stage_samples(certs, "select")
        row["n"] = stage_samples(certs, "bound")
        predicted_from = prediction_stage(certs)
        row["n_predict"] = stage_samples(certs, predicted_from)
        shared = predicted_from == "bound"
        row["prediction_samples"] = "shared with n" if shared else "separate"
        row.update({"alpha": alpha, "scale": scale})
        rows.append(row)
    return _with_paper(_rounded(pd.DataFrame(rows)), paper, ["k"])


CERTIFICATE_CELLS = {
    "accuracy_pct": _beside("accuracy_pct", "pct"),
    "abstained_pct": _beside("abstained_pct", "pct"),
    MEDIAN: _beside(MEDIAN, "median"),
}


def certificate_cells(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The cells of Table 1, 3 or 6 (`name`) from `certificate_summary`: one row per k."""
    return cells(table, name, K_ROW, CERTIFICATE_CELLS)


def _with_paper(ours: pd.DataFrame, paper: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Join the paper's columns onto ours by the keys, each `paper_<c>` right after our `c`.

    A paper column of a quantity we do not measure keeps its own name, after ours.
    """
    names = {c: f"paper_{c}" if c in ours.columns else c for c in paper.columns if c not in keys}
    table = ours.merge(paper.rename(columns=names), on=list(keys), how="left")
    order = []
    for column in ours.columns:
        order.append(column)
        theirs = names.get(column)
        if theirs is not None:
            order.append(theirs)
            if str(table[column].dtype) == "Int64":  # medians: integers or NA, as ours
                table[theirs] = table[theirs].astype("Int64")
    return table[order + [c for c in table.columns if c not in order]]


# One model's base accuracy (Tables 4, 5), as `write_base_accuracy` writes it and
# `base_accuracy_table` reads it: the final epoch's train accuracy (None for the authors' released
# models), that epoch and its training images, the ablated test accuracy, the test images and the
# ablations drawn per image.
BASE_ACCURACY_KEYS = (
    "k",
    "train_accuracy",
    "train_epoch",
    "train_images",
    "test_accuracy",
    "images",
    "samples",
)


def write_base_accuracy(path: str | os.PathLike, record: Mapping[str, object]) -> None:
    """Write one model's base accuracy record (`BASE_ACCURACY_KEYS`, in that order) as JSON."""
    if set(record) != set(BASE_ACCURACY_KEYS):
        raise ValueError(
            f"a base accuracy record has the keys {', '.join(BASE_ACCURACY_KEYS)}, "
            f"not {', '.join(record)}"
        )
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({key: record[key] for key in BASE_ACCURACY_KEYS}, indent=1))


def read_base_accuracy(path: str | os.PathLike) -> dict[str, object]:
    """Read one model's base accuracy record, as `write_base_accuracy` wrote it."""
    record = json.loads(Path(path).read_text())
    missing = [key for key in BASE_ACCURACY_KEYS if key not in record]
    if missing:
        raise ValueError(
            f"{path}: a base accuracy record lacks {', '.join(missing)}; expected the keys "
            f"{', '.join(BASE_ACCURACY_KEYS)}"
        )
    return record


def base_accuracy_table(
    results: Sequence[Mapping[str, object]], paper: pd.DataFrame, scale: str
) -> pd.DataFrame:
    """Return Table 4 or 5: train accuracy (final epoch) and test accuracy on ablated images.

    `results` holds one record per model, as `read_base_accuracy` returns them.
    """
    rows = [
        {
            "k": int(r["k"]),
            # None (NA) for the authors' released models, which carry no training history
            "train_accuracy_pct": None
            if r["train_accuracy"] is None
            else round(100.0 * float(r["train_accuracy"]), 2),
            "train_images": r["train_images"],
            "test_accuracy_pct": round(100.0 * float(r["test_accuracy"]), 2),
            "images": int(r["images"]),
            "samples_per_image": int(r["samples"]),
            "scale": scale,
        }
        for r in sorted(results, key=lambda r: int(r["k"]))
    ]
    return _with_paper(pd.DataFrame(rows), paper, ["k"])


def base_accuracy_cells(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The cells of Table 4 or 5 (`name`): train accuracy over train_images, test over images."""
    printed = {
        "train_accuracy_pct": _beside("train_accuracy_pct", "pct", "train_images"),
        "test_accuracy_pct": _beside("test_accuracy_pct", "pct"),
    }
    return cells(table, name, K_ROW, printed)


def table7(
    lee: Mapping[str, pd.DataFrame],
    standard: Mapping[str, pd.DataFrame],
    ks: Mapping[str, int],
    paper: pd.DataFrame,
    scale: str,
) -> pd.DataFrame:
    """Return Table 7: our medians with Lee et al.'s sampling (beside the paper's) and ours.

    `median_certified_robustness_pixels` uses Lee et al.'s sampling (n0 = 100, n = 100,000),
    `..._standard_sampling` the paper's; Lee et al.'s own median is quoted from the paper.
    """
    rows = []
    for dataset, certs in lee.items():
        rows.append(
            {
                "dataset": dataset,
                "k": int(ks[dataset]),
                MEDIAN: _median(certs),
                f"{MEDIAN}_standard_sampling": _median(standard[dataset]),
                "images": len(certs),
                "n0": stage_samples(certs, "select"),
                "n": stage_samples(certs, "bound"),
                "scale": scale,
            }
        )
    ours = pd.DataFrame(rows)
    for column in (MEDIAN, f"{MEDIAN}_standard_sampling"):
        ours[column] = ours[column].astype("Int64")
    table = _with_paper(ours, paper, ["dataset"])
    table["lee_et_al_source"] = "quoted from Lee et al. (2019) via the paper, not measured"
    return table


def table7_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The cells of Table 7: our median with Lee et al.'s sampling (theirs is quoted, not ours)."""
    return cells(table, "table7", TABLE7_ROW, {MEDIAN: _beside(MEDIAN, "median")})


def table8(
    certs_by_row: Mapping[tuple[str, int, str], pd.DataFrame], paper: pd.DataFrame, scale: str
) -> pd.DataFrame:
    """Return Table 8: accuracy, abstentions and median per (data set, k, NULL encoding)."""
    rows = []
    for (dataset, k, encoding), certs in certs_by_row.items():
        summary = summarize(certs)
        rows.append({"dataset": dataset, "k": int(k), "encoding": encoding, **summary})
    ours = pd.DataFrame(rows)
    ours = _rounded(ours)
    ours["scale"] = scale
    return _with_paper(ours, paper, ["dataset", "k", "encoding"])


def table8_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The cells of Table 8: one row per data set, k and NULL encoding."""
    return cells(table, "table8", TABLE8_ROW, CERTIFICATE_CELLS)


IMAGENET_MEDIANS = {
    # k: (paper quantity prefix, what the Results section computes)
    1000: "median certificate on correctly certified ImageNet images (k=1000)",
    500: "median certificate excluding N/A (ImageNet k=500)",
    2000: "median certificate excluding N/A (ImageNet k=2000)",
}


def imagenet_medians(certs_by_k: Mapping[int, pd.DataFrame], paper: pd.DataFrame) -> pd.DataFrame:
    """The Results section's ImageNet medians over images certified for the correct class."""
    printed = dict(zip(paper["quantity"], paper["value"], strict=True))
    rows = []
    for k, quantity in IMAGENET_MEDIANS.items():
        if k not in certs_by_k:
            continue
        r = certs_by_k[k]["robustness"].to_numpy(float)
        correct = r[np.isfinite(r)]  # N/A (a wrong certification guess) is -inf
        ours = int(certificates.median_certified_robustness(correct)) if correct.size else None
        rows.append(
            {
                "quantity": quantity,
                "ours": ours,
                "paper": printed.get(quantity, np.nan),
                "note": f"median over the {correct.size} of {len(r)} images whose "
                "certification guess is the label",
            }
        )
    table = pd.DataFrame(rows, columns=["quantity", "ours", "paper", "note"])
    table["paper"] = pd.to_numeric(table["paper"], errors="coerce")
    table["difference"] = pd.to_numeric(table["ours"]) - table["paper"]
    return table


def imagenet_medians_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The cells of the ImageNet medians, which the scorecard counts among the Discussion's."""
    return cells(table, "discussion", "{quantity}", {"value": Printed("median", "ours", "paper")})


def robustness_by_k(certs_by_k: Mapping[int, pd.DataFrame]) -> dict[int, np.ndarray]:
    """Return each k's per-image certified robustness (−inf for N/A)."""
    return {int(k): certs["robustness"].to_numpy(float) for k, certs in certs_by_k.items()}
