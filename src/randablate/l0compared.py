"""L0 certificates compared on the same test images: randomized ablation beside feature partition.

Randomized ablation (Levine & Feizi): Corollary 1, Corollary 2, top-2 and top-3 from the same
vote counts of each compared k (`randablate.comparison`), and Corollary 1 with Lee et al.'s
sampling (Table 7: n0 = 100, n = 100,000, alpha = 0.001); each holds with probability 1 − alpha.
Feature partition aggregation (Hammoudeh & Lowd, `randablate.partition`): the deterministic
certificate of a T-submodel plurality vote, which always holds. An image counts at ρ only when
its label is certified at ρ (as in `randablate.comparison`); the median certificate is the
largest ρ that at least half of the images reach (NA when fewer than half are certified).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import comparison, partition
from .certificates import median_or_na

SUMMARY_COLUMNS = (
    "method",
    "label",
    "family",
    "guarantee",
    "source",
    "images",
    "certified_accuracy_rho0",
    "median_certificate_pixels",
    "forward_passes_per_image",
    "seconds_per_image",
)
RA_CERTIFICATES = {
    "corollary1": "Corollary 1",
    "corollary2": "Corollary 2",
    "top2": "top-2 (label among the 2 most probable)",
    "top3": "top-3 (label among the 3 most probable)",
}


@dataclass
class Method:
    """One certificate's per-image radii for the label (−1: not certified) and its cost."""

    method: str
    label: str
    family: str
    guarantee: str
    radius: np.ndarray
    forward_passes: float
    seconds: float | None


def _forward_passes(votes: Mapping[str, np.ndarray]) -> float:
    """Samples drawn per image by a vote file: every stage's counts."""
    stages = [key for key in votes if key.startswith("counts_")]
    return float(np.mean(sum(np.asarray(votes[key]).sum(axis=1) for key in stages)))


def _per_image(seconds: float | None, images: int) -> float | None:
    return None if seconds is None else seconds / images


def methods(
    standard: Mapping[int, Mapping[str, np.ndarray]],
    alpha: float,
    fpa: Mapping[int, Mapping[str, np.ndarray]],
    lee: Mapping[int, Mapping[str, np.ndarray]] | None = None,
    lee_alpha: float = 0.001,
    seconds: Mapping[tuple[str, int], float | None] | None = None,
) -> list[Method]:
    """Every compared certificate on the same images; refuses vote files of different images.

    `standard` and `lee` map k to randomized ablation's vote files (randablate.smoothing),
    `fpa` maps T to an ensemble's vote file (randablate.partition.count_ensemble_votes);
    `seconds` maps ("standard" | "lee" | "fpa", k or T) to the wall seconds its votes took.
    """
    seconds = seconds or {}
    sources = [("standard", k, v) for k, v in sorted(standard.items())]
    sources += [("lee", k, v) for k, v in sorted((lee or {}).items())]
    sources += [("fpa", t, v) for t, v in sorted(fpa.items())]
    if not sources:
        raise ValueError("no vote files to compare")
    first_kind, first_key, first = sources[0]
    for kind, key, votes in sources[1:]:
        if not np.array_equal(np.asarray(votes["index"]), np.asarray(first["index"])):
            raise ValueError(
                f"the {kind} votes of {key} certify other test images than the {first_kind} "
                f"votes of {first_key}: every certificate must be compared on the same images"
            )
    out: list[Method] = []
    for kind, key, votes in sources:
        images = len(votes["index"])
        cost = _per_image(seconds.get((kind, key)), images)
        if kind == "standard":
            radii = comparison.label_radii(votes, alpha)
            for name, text in RA_CERTIFICATES.items():
                out.append(
                    Method(
                        f"ra_k{key}_{name}",
                        f"randomized ablation k = {key}, {text}",
                        "randomized ablation",
                        f"with probability 1 - alpha = {1 - alpha:g}",
                        radii[name],
                        _forward_passes(votes),
                        cost,
                    )
                )
        elif kind == "lee":
            out.append(
                Method(
                    f"lee_k{key}",
                    f"randomized ablation k = {key}, Corollary 1, Lee et al.'s sampling",
                    "randomized ablation",
                    f"with probability 1 - alpha = {1 - lee_alpha:g}",
                    comparison.label_radii(votes, lee_alpha)["corollary1"],
                    _forward_passes(votes),
                    cost,
                )
            )
        else:
            _, radius = partition.certify(votes["counts"], votes["label"])
            out.append(
                Method(
                    f"fpa_T{key}",
                    f"feature partition aggregation T = {key}",
                    "feature partition aggregation",
                    "always (deterministic)",
                    radius,
                    float(votes["groups"]),
                    cost,
                )
            )
    return out


def curves(compared: Sequence[Method], max_rho: int | None = None) -> pd.DataFrame:
    """Certified accuracy (%) at ρ = 0..max_rho (rows), one column per method.

    max_rho defaults to one past the largest radius any method reaches.
    """
    if max_rho is None:
        max_rho = 1 + max(int(m.radius.max()) for m in compared)
    rhos = np.arange(max(max_rho, 0) + 1)
    table = {"rho": rhos}
    for m in compared:
        table[m.method] = 100.0 * (m.radius[:, None] >= rhos[None, :]).mean(axis=0)
    return pd.DataFrame(table)


def summary(compared: Sequence[Method], quoted: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per method: certified accuracy at ρ = 0, median certificate, cost per image.

    `quoted` rows (a paper's values: method, label, family, guarantee, source and
    median_certificate_pixels) are appended as they are, `source` naming the paper.
    """
    rows = []
    for m in compared:
        robustness = np.where(m.radius >= 0, m.radius, -np.inf)
        rows.append(
            {
                "method": m.method,
                "label": m.label,
                "family": m.family,
                "guarantee": m.guarantee,
                "source": "measured",
                "images": len(m.radius),
                "certified_accuracy_rho0": round(100.0 * float(np.mean(m.radius >= 0)), 2),
                "median_certificate_pixels": median_or_na(robustness),
                "forward_passes_per_image": m.forward_passes,
                "seconds_per_image": None if m.seconds is None else round(m.seconds, 6),
            }
        )
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    if quoted is not None and len(quoted):
        table = pd.concat([table, quoted.reindex(columns=list(SUMMARY_COLUMNS))], ignore_index=True)
    table["median_certificate_pixels"] = table["median_certificate_pixels"].astype("Int64")
    table["images"] = table["images"].astype("Int64")
    return table


def benchmark_seconds(paths: Sequence[str | os.PathLike]) -> float | None:
    """Wall seconds summed over Snakemake benchmark files (column s); None if any is missing."""
    total = 0.0
    for path in paths:
        if not os.path.isfile(path):
            return None
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows or "s" not in rows[0]:
            raise ValueError(f"{path} is not a Snakemake benchmark file (a column 's' expected)")
        total += float(rows[0]["s"])
    return total
