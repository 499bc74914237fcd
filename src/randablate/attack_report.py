"""Turning Pointwise-attack results into Table 2, the soundness table and Figures 3 and 5.

Per-image attack CSV (one row per attacked image): index, label, status (clean: the smoothed
classifier is already wrong or abstains on the clean image, magnitude 0; broken: the attack's
image is misclassified or abstained on by a fresh full query; query_fooled: the queries along
the attack's path accepted an image that a fresh full query classifies as the label, which counts
as unbroken; unbroken: no start found anything), attack_l0 (the verified magnitude: 0, pixels or
inf), query_l0 (the L0 the attack's queries accepted, verified or not), best_start, the clean and
adversarial predictions (−1: abstain) and vote counts, `verified`, queries, samples, whether a
start's query budget bound (`budget_bound`), seconds, every start's L0, and, for a smoothed model,
its certificate (guess, p_lower, radius, robustness) from the certification results.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from randablate import certificates
from randablate.attack_statuses import BROKEN, CLEAN, QUERY_FOOLED, UNBROKEN
from randablate.tables import Printed, cells

CERTIFICATE_COLUMNS = ("guess", "p_lower", "radius", "robustness")


def _verified_columns(attack: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Status, verified magnitude and query-path L0 per image (older files: derived here)."""
    status = np.asarray(attack["status"]).astype(str).astype(object)
    label = np.asarray(attack["label"], dtype=np.int64)
    fooled = (status == BROKEN) & (np.asarray(attack["adv_prediction"]) == label)
    status[fooled] = QUERY_FOOLED
    l0 = np.asarray(attack["l0"], dtype=np.float64)
    query_l0 = np.asarray(attack.get("query_l0", l0), dtype=np.float64)
    verified_l0 = np.where(np.isin(status, [CLEAN, BROKEN]), query_l0, np.inf)
    return {"status": status.astype(str), "attack_l0": verified_l0, "query_l0": query_l0}


def attack_table(
    attack: Mapping[str, np.ndarray], certs: pd.DataFrame | None = None, certs_name: str = ""
) -> pd.DataFrame:
    """Return one row per attacked image, joined with its certificate when `certs` is given."""
    index = np.asarray(attack["index"], dtype=np.int64)
    label = np.asarray(attack["label"], dtype=np.int64)
    adv_prediction = np.asarray(attack["adv_prediction"], dtype=np.int64)
    queries = np.asarray(attack["queries"], dtype=np.int64)
    verified = _verified_columns(attack)
    table = pd.DataFrame(
        {
            "index": index,
            "label": label,
            "status": verified["status"],
            "attack_l0": verified["attack_l0"],
            "query_l0": verified["query_l0"],
            "best_start": np.asarray(attack["best_start"], dtype=np.int64),
            "clean_prediction": np.asarray(attack["clean_prediction"], dtype=np.int64),
            "adv_prediction": adv_prediction,
            "verified": adv_prediction != label,
            "queries": queries,
            "samples": np.asarray(attack.get("samples", np.zeros_like(queries)), dtype=np.int64),
            "budget_bound": np.asarray(
                attack.get("budget_bound", np.zeros(len(index), dtype=bool)), dtype=bool
            ),
            "seconds": np.round(np.asarray(attack["seconds"], dtype=np.float64), 3),
            "k": int(attack["k"]),
            "n_query": int(attack["n_query"]),
        }
    )
    parts = [table]
    start_l0 = np.asarray(attack["start_l0"], dtype=np.float64)
    parts.append(
        pd.DataFrame(start_l0, columns=[f"start_l0_{s}" for s in range(start_l0.shape[1])])
    )
    for stage in ("clean", "adv"):
        counts = np.asarray(attack[f"{stage}_counts"], dtype=np.int64)
        names = [f"{stage}_count_{c}" for c in range(counts.shape[1])]
        parts.append(pd.DataFrame(counts, columns=names))
    out = pd.concat(parts, axis=1)
    if certs is None:
        return out
    missing = sorted(set(index) - set(certs["index"]))
    if missing:
        raise ValueError(
            f"{certs_name or 'certificates'}: no certificate for attacked image(s) {missing[:10]}"
        )
    cert = certs.set_index("index").loc[index, list(CERTIFICATE_COLUMNS)].reset_index(drop=True)
    cert = cert.rename(columns={"robustness": "certified_robustness"})
    return pd.concat([out, cert], axis=1)


def median_magnitude(l0: np.ndarray) -> float:
    """Median attack magnitude; unbroken images count as inf (so the median may be inf)."""
    values = np.asarray(l0, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no attacked images")
    return float(np.median(values))


def summarize_attack(table: pd.DataFrame) -> dict[str, object]:
    """Return one model's Table 2 quantities from its per-image attack table.

    The magnitude is the verified one: an image whose attack a fresh full query does not confirm
    (query_fooled) counts as unbroken (inf). `median_query_l0_pixels` is the median of what the
    attack's own queries accepted, for comparison only.
    """
    status = table["status"].astype(str)
    row: dict[str, object] = {
        "accuracy_pct": round(
            100.0 * float((table["clean_prediction"] == table["label"]).mean()), 2
        ),
        "accuracy_images": len(table),
        "accuracy_over": f"the {len(table)} attacked images (one query each)",
        "median_attack_magnitude_pixels": median_magnitude(table["attack_l0"]),
        "median_query_l0_pixels": median_magnitude(table["query_l0"]),
        "images": len(table),
        "clean_adversarial": int((status == CLEAN).sum()),
        "broken": int((status == BROKEN).sum()),
        "query_fooled": int((status == QUERY_FOOLED).sum()),
        "unbroken": int((status == UNBROKEN).sum()),
        "budget_bound": int(table["budget_bound"].sum()) if "budget_bound" in table else 0,
        "queries_per_image": round(float(table["queries"].mean()), 1),
        "samples_per_query": round(
            float(table["samples"].sum()) / max(float(table["queries"].sum()), 1.0), 1
        )
        if "samples" in table
        else None,
        "median_certified_robustness_pixels": None,
        "soundness_flags": None,
    }
    if "certified_robustness" in table:
        row["median_certified_robustness_pixels"] = certificates.median_or_na(
            table["certified_robustness"].to_numpy(float)
        )
        row["soundness_flags"] = int(soundness_table(table)["flag"].sum())
    return row


def smoothed_model_name(k: int) -> str:
    """Table 2's row name of the smoothed classifier at k: the paper's own spelling."""
    return f"Randomized ablation (k={k})"


def unprotected_model_name(k: int) -> str:
    """Table 2's row name of our unprotected CNN (k = d: no pixel ablated)."""
    return f"CNN, unprotected (k={k}, no pixel ablated)"


MEASURED_SOURCE = "this run (Foolbox 3.3.4 PointwiseAttack)"
TABLE2_PRINTED = ("accuracy_pct", "median_attack_magnitude_pixels")  # the paper's columns
TABLE2_CELLS = {
    "accuracy_pct": Printed("pct", "accuracy_pct", "paper_accuracy_pct", "accuracy_images"),
    "median_attack_magnitude_pixels": Printed(
        "median",
        "median_attack_magnitude_pixels",
        "paper_median_attack_magnitude_pixels",
        "images",
    ),
}


def table2(
    paper: pd.DataFrame,
    measured: Mapping[str, pd.DataFrame],
    settings: Mapping[str, object],
    scale: str,
    certified: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Return Table 2: one row per model, the paper's values (`paper_*`) beside ours.

    The paper's rows come first in its order; a measured model of the same name (for example
    "Randomized ablation (k=45)") fills that row's own columns (kind "measured"), the others stay
    quoted (kind "quoted", ours NA). Measured models the paper does not list follow.
    The paper's accuracy of randomized ablation (96.7%) is Table 1's, over the whole test set.
    For a model in `certified` (name -> its Table 1 certificates), our accuracy_pct is likewise
    Table 1's accuracy over the certified images; else it is over the attacked images.
    `accuracy_over` says which, and `accuracy_images` how many.
    """
    certified = certified or {}
    ours = {}
    for name, table in measured.items():
        row = summarize_attack(table)
        if name in certified:
            certs = certified[name]
            row["attacked_accuracy_pct"] = row["accuracy_pct"]
            row["accuracy_pct"] = round(
                100.0 * float((certs["prediction"] == certs["label"]).mean()), 2
            )
            row["accuracy_images"] = len(certs)
            row["accuracy_over"] = (
                f"Table 1's {len(certs)} certified test images (as the paper's 96.7%)"
            )
        row.update(
            k=int(table["k"].iloc[0]),
            n_query=int(table["n_query"].iloc[0]),
            starts=int(sum(c.startswith("start_l0_") for c in table.columns)),
            **{key: settings[key] for key in TABLE2_SETTINGS if key in settings},
            scale=scale,
        )
        ours[name] = row
    rows = []
    for quoted in paper.to_dict("records"):
        model, source = str(quoted["model"]), str(quoted["source"])
        if source.startswith("Schott"):
            source = f"{source}, as quoted in Levine & Feizi 2020 Table 2"
        else:
            source = f"Levine & Feizi 2020 Table 2 ({source})"
        row = {"model": model, "kind": "quoted"}
        for quantity in TABLE2_PRINTED:
            row[f"paper_{quantity}"] = float(quoted[quantity])
        if model in ours:
            row.update(kind="measured", **ours.pop(model))
            source = f"{MEASURED_SOURCE}; paper_*: {source}"
        rows.append({**row, "source": source})
    for model, row in ours.items():
        rows.append({"model": model, "kind": "measured", **row, "source": MEASURED_SOURCE})
    out = pd.DataFrame(rows)
    order = ["model", "kind"]
    for quantity in TABLE2_PRINTED:
        order += [quantity, f"paper_{quantity}"]
    out = out.reindex(columns=order + [c for c in out.columns if c not in order and c != "source"])
    out["source"] = [row["source"] for row in rows]
    for column in (
        "images",
        "accuracy_images",
        "clean_adversarial",
        "broken",
        "query_fooled",
        "unbroken",
        "budget_bound",
        "median_certified_robustness_pixels",
        "soundness_flags",
        "k",
        "n_query",
        "starts",
    ):
        if column in out:
            out[column] = out[column].astype("Int64")
    return out


def table2_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The cells of Table 2: each measured model that the paper also lists, beside its values.

    A measured model without a row in the paper (our unprotected CNN is not Schott et al.'s)
    gives no cell, nor do the quoted rows.
    """
    return cells(table[table["kind"] == "measured"], "table2", "{model}", TABLE2_CELLS)


# The attack settings Table 2 repeats on each measured row.
TABLE2_SETTINGS = (
    "alpha",
    "init",
    "init_epsilons",
    "init_repetitions",
    "init_steps",
    "l2_binary_search",
    "max_queries",
    "decision",
    "delta",
)


def soundness_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per image: attack magnitude against certified radius; `flag` marks a contradiction.

    Flagged: the image has a certificate (radius >= 0), the attack's verified L0 (inf for a
    query_fooled attack) is at most the radius, and a fresh query of the attack's image predicts
    a class other than the certified guess (misclassification; an abstention does not
    contradict the certificate). The certificate
    holds with probability 1 - alpha per image, so about an alpha share may be flagged.
    """
    if "radius" not in table:
        raise ValueError("the attack table has no certificates (radius column) to check against")
    radius = table["radius"].to_numpy(np.int64)
    l0 = table["attack_l0"].to_numpy(np.float64)
    prediction = table["adv_prediction"].to_numpy(np.int64)
    guess = table["guess"].to_numpy(np.int64)
    within = (radius >= 0) & (l0 <= radius)
    misclassified = (prediction != guess) & (prediction != -1)
    out = table[["index", "label", "guess", "p_lower", "radius", "certified_robustness"]].copy()
    out["status"] = table["status"]
    out["attack_l0"] = l0
    if "query_l0" in table:
        out["query_l0"] = table["query_l0"]
    out["adv_prediction"] = prediction
    out["verified"] = table["verified"]
    out["l0_minus_radius"] = np.where(radius >= 0, l0 - radius, np.nan)
    out["within_radius"] = within
    out["flag"] = within & misclassified
    return out


def pick_examples(attack: Mapping[str, np.ndarray], skip: int, count: int) -> np.ndarray:
    """Positions of verified broken images, by image index, after skipping the first `skip`."""
    broken = np.flatnonzero(_verified_columns(attack)["status"] == BROKEN)
    order = broken[np.argsort(np.asarray(attack["index"])[broken], kind="stable")]
    return order[skip : skip + count]


def run_summary(attack: Mapping[str, np.ndarray]) -> str:
    """One line on what the attack run found: images per status, verified or not."""
    status = _verified_columns(attack)["status"]
    counts = {name: int((status == name).sum()) for name in (BROKEN, QUERY_FOOLED, UNBROKEN)}
    return (
        f"of {len(status)} attacked images: {counts[BROKEN]} broken (adversarial on a fresh "
        f"full query), {counts[QUERY_FOOLED]} not adversarial on a fresh query "
        f"(query_fooled), {counts[UNBROKEN]} unbroken, {int((status == CLEAN).sum())} already "
        "misclassified or abstained on"
    )
