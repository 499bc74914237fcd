"""Certified accuracy under four certificates computed from the same stored vote counts.

Corollary 1 (the paper's), Corollary 2 (simultaneous bounds on every class) and Jia et al.'s
top-2 and top-3 certificates. Every certificate here counts an image at ρ only when its label is
certified at ρ: unlike the paper's tables, a correct guess without a certificate does not count
at ρ = 0, so that the four columns are comparable.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from randablate import certificates

CERTIFICATES = ("corollary1", "corollary2", "top2", "top3")


def label_radii(votes: Mapping[str, np.ndarray], alpha: float) -> dict[str, np.ndarray]:
    """Return per certificate each image's certified radius for its label (−1: none)."""
    d, k = int(votes["d"]), int(votes["k"])
    label = np.asarray(votes["label"], dtype=np.int64)
    select, bound = votes["counts_select"], votes["counts_bound"]
    guess1, _, radius1 = certificates.certify_from_counts(select, bound, alpha, d, k)
    guess2, radius2 = certificates.certify_joint(select, bound, alpha, d, k)
    return {
        "corollary1": np.where(guess1 == label, radius1, -1),
        "corollary2": np.where(guess2 == label, radius2, -1),
        "top2": certificates.certify_topk(bound, label, alpha, d, k, 2),
        "top3": certificates.certify_topk(bound, label, alpha, d, k, 3),
    }


def compare_certificates(
    votes_by_k: Mapping[int, Mapping[str, np.ndarray]],
    alpha: float,
    max_rho: int | None = None,
) -> pd.DataFrame:
    """Return certified accuracy (%) at ρ = 0..max_rho per k (rows) and certificate (columns).

    max_rho defaults to one past the largest radius any certificate reaches for any k.
    """
    if not votes_by_k:
        raise ValueError("no vote files to compare")
    radii = {int(k): label_radii(votes, alpha) for k, votes in votes_by_k.items()}
    if max_rho is None:
        max_rho = 1 + max(int(r.max()) for by_cert in radii.values() for r in by_cert.values())
    rhos = np.arange(max(max_rho, 0) + 1)
    frames = []
    for k in sorted(radii):
        columns = {
            name: 100.0 * (radii[k][name][:, None] >= rhos[None, :]).mean(axis=0)
            for name in CERTIFICATES
        }
        frame = pd.DataFrame({"k": k, "rho": rhos, **columns})
        frame["images"] = len(radii[k]["corollary1"])
        frame["corollary2_minus_corollary1"] = frame["corollary2"] - frame["corollary1"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def looser_than_corollary1(table: pd.DataFrame) -> pd.DataFrame:
    """Return, per k, the radii ρ at which Corollary 2 certifies fewer images than Corollary 1."""
    worse = table[table["corollary2"] < table["corollary1"]]
    return worse.groupby("k")["rho"].apply(list).reset_index(name="rhos")
