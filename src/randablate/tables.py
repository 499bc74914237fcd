"""Turning vote counts into per-image certificate tables and those into the paper's tables.

Certificate CSV (one row per test image): index, label, guess, p_lower, radius (−1: no radius),
robustness, prediction (−1: abstain), correct, and the raw counts select_c, bound_c, predict_c for
every class c, so every certificate can be recomputed without a GPU. `robustness` follows the
paper and the authors' convention: −inf (written "-inf") where the certification guess is not the
label (the paper's N/A), 0 for a correct guess without a certified radius, else the radius.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from randablate import certificates
from randablate.files import atomic_path

STAGES = ("select", "bound", "predict")
PAPER_COLUMNS = {
    "accuracy_pct": "paper_accuracy_pct",
    "abstained_pct": "paper_abstained_pct",
    "median_certified_robustness": "paper_median_certified_robustness",
}
PAPER_SAMPLING = "n0=1000, n=10000, n_predict=10000, alpha=0.05"
PAPER_SETUPS = {
    "mnist": f"paper: all 10,000 test images, {PAPER_SAMPLING}; CNN, "
    "400 epochs SGD (momentum 0.9, lr 0.01 then 0.001 from epoch 201), fp32",
    "cifar10": f"paper: all 10,000 test images, {PAPER_SAMPLING}; ResNet18, 400 epochs SGD "
    "(momentum 0.9, weight decay 5e-4, lr 0.01 then 0.001 from epoch 201), crop and flip",
    "imagenet": f"paper: 400 random validation images, {PAPER_SAMPLING}; ResNet50, 36 epochs "
    "SGD (momentum 0.9, weight decay 1e-4, lr 0.1, 0.01 from epoch 22, 0.001 from epoch 32), "
    "random resized crop and flip",
}


def load_votes(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Return every array of a votes .npz file, loaded into memory."""
    with np.load(path) as npz:
        return {name: npz[name] for name in npz.files}


def merge_votes(paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> int:
    """Concatenate vote shards (sorted by image index) into one .npz; return the image count."""
    shards = [load_votes(p) for p in paths]
    if not shards:
        raise ValueError("no vote shards to merge")
    per_image = [name for name, arr in shards[0].items() if arr.ndim >= 1]
    scalars = [name for name, arr in shards[0].items() if arr.ndim == 0]
    for path, shard in zip(paths, shards, strict=True):
        if set(shard) != set(shards[0]):
            raise ValueError(f"{path}: arrays {sorted(shard)} differ from {sorted(shards[0])}")
        for name in scalars:
            if shard[name] != shards[0][name]:
                raise ValueError(f"{path}: {name}={shard[name]} differs from {shards[0][name]}")
    merged = {name: np.concatenate([s[name] for s in shards]) for name in per_image}
    order = np.argsort(merged["index"], kind="stable")
    if np.any(np.diff(merged["index"][order]) == 0):
        raise ValueError("vote shards overlap: an image index occurs twice")
    merged = {name: arr[order] for name, arr in merged.items()}
    merged.update({name: shards[0][name] for name in scalars})
    with atomic_path(out_path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **merged)
    return len(order)


def certificate_table(
    votes: Mapping[str, np.ndarray], alpha: float, predict_from: str | None = "predict"
) -> pd.DataFrame:
    """Return one row per image: certificate, prediction and the raw counts of every stage.

    The prediction comes from the counts of stage `predict_from`: "predict" (its own n_predict
    samples, the paper's procedure), "bound" (the n samples that bound the probability; the
    same distribution per image when n_predict = n) or None (no prediction: Lee et al.'s
    sampling, Table 7).
    """
    d, k = int(votes["d"]), int(votes["k"])
    label = np.asarray(votes["label"], dtype=np.int64)
    guess, p_lower, radius = certificates.certify_from_counts(
        votes["counts_select"], votes["counts_bound"], alpha, d, k
    )
    table = pd.DataFrame(
        {
            "index": np.asarray(votes["index"], dtype=np.int64),
            "label": label,
            "guess": guess,
            "p_lower": p_lower,
            "radius": radius,
            "robustness": certificates.robustness(guess, label, radius),
        }
    )
    if predict_from is not None:
        if f"counts_{predict_from}" not in votes:
            raise ValueError(f"the votes have no {predict_from!r} stage to predict from")
        prediction = certificates.predict_from_counts(votes[f"counts_{predict_from}"], alpha)
        table["prediction"] = prediction
        table["correct"] = prediction == label
    counts = {
        f"{stage}_{c}": np.asarray(votes[f"counts_{stage}"][:, c], dtype=np.int64)
        for stage in STAGES
        if f"counts_{stage}" in votes
        for c in range(votes[f"counts_{stage}"].shape[1])
    }
    return pd.concat([table, pd.DataFrame(counts)], axis=1)


def write_csv(table: pd.DataFrame, path: str | os.PathLike, gzip: bool = False) -> None:
    """Write a table atomically; missing values as "NA", infinities as "inf"/"-inf".

    With `gzip`, compressed with a fixed timestamp, so that equal tables give equal files.
    """
    compression = {"method": "gzip", "mtime": 0} if gzip else None
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, na_rep="NA", float_format="%.10g", compression=compression)


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


def summarize(certs: pd.DataFrame) -> dict[str, float | int | None]:
    """Return the Table 1 quantities of one model: accuracy, abstentions, median certificate."""
    if len(certs) == 0:
        raise ValueError("no certificate rows")
    median = certificates.median_certified_robustness(certs["robustness"].to_numpy(float))
    return {
        "accuracy_pct": 100.0 * float((certs["prediction"] == certs["label"]).mean()),
        "abstained_pct": 100.0 * float((certs["prediction"] == -1).mean()),
        "median_certified_robustness": None if np.isneginf(median) else int(median),
        "images": len(certs),
    }


def training_setup(training: Mapping[str, object], scale: str, dataset: str = "mnist") -> str:
    """Describe the training settings (and, at reduced scale, the paper's) in one line."""
    schedule = training["lr_schedule"]
    lrs = " then ".join(f"{lr:g} from epoch {start}" for start, lr in schedule)
    limit = training.get("max_train_images")
    images = f" on {limit} images" if limit else ""
    text = f"{training['epochs']} epochs {training['optimizer']}{images}, lr {lrs}, "
    text += f"{training['precision']}"
    if scale == "reference":
        text = f"REFERENCE RUN (the paper's settings but the departures its caption lists): {text}"
    elif scale != "paper":
        text = f"REDUCED SCALE: {text} ({PAPER_SETUPS[dataset]})"
    return text


def _rounded(ours: pd.DataFrame) -> pd.DataFrame:
    """Percentages to two decimals, as the paper prints them; medians as integers or NA."""
    ours = ours.copy()
    ours["accuracy_pct"] = ours["accuracy_pct"].round(2)
    ours["abstained_pct"] = ours["abstained_pct"].round(2)
    ours["median_certified_robustness"] = ours["median_certified_robustness"].astype("Int64")
    return ours


def certificate_summary(
    certs_by_k: Mapping[int, pd.DataFrame],
    paper: pd.DataFrame,
    alpha: float,
    scale: str,
    training: Mapping[str, object],
    dataset: str = "mnist",
) -> pd.DataFrame:
    """Return Table 1, 3 or 6 (one row per k, ours beside the paper's) from certificate tables."""
    rows = []
    setup = training_setup(training, scale, dataset)
    for k in sorted(certs_by_k):
        certs = certs_by_k[k]
        row = {"k": int(k), **summarize(certs)}
        row["n0"] = stage_samples(certs, "select")
        row["n"] = stage_samples(certs, "bound")
        shared = not any(c.startswith("predict_") for c in certs.columns)
        row["n_predict"] = stage_samples(certs, "bound" if shared else "predict")
        row["prediction_samples"] = "shared with n" if shared else "separate"
        row.update({"alpha": alpha, "scale": scale, "training": setup})
        rows.append(row)
    ours = pd.DataFrame(rows)
    ours = _rounded(ours)
    theirs = paper[["k", *PAPER_COLUMNS]].rename(columns=PAPER_COLUMNS)
    theirs["paper_median_certified_robustness"] = theirs[
        "paper_median_certified_robustness"
    ].astype("Int64")
    return ours.merge(theirs, on="k", how="left")


def table1(
    certs_by_k: Mapping[int, pd.DataFrame],
    paper: pd.DataFrame,
    alpha: float,
    scale: str,
    training: Mapping[str, object],
) -> pd.DataFrame:
    """Return Table 1 (MNIST) from certificate tables; see `certificate_summary`."""
    return certificate_summary(certs_by_k, paper, alpha, scale, training, "mnist")


def _with_paper(ours: pd.DataFrame, paper: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Join the paper's value columns (renamed paper_<column>) onto ours by the key columns."""
    theirs = paper.rename(columns={c: f"paper_{c}" for c in paper.columns if c not in keys})
    return ours.merge(theirs, on=list(keys), how="left")


def base_accuracy_table(
    results: Sequence[Mapping[str, object]], paper: pd.DataFrame, scale: str
) -> pd.DataFrame:
    """Return Table 4 or 5: train accuracy (final epoch) and test accuracy on ablated images."""
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


def _median(certs: pd.DataFrame) -> int | None:
    """The median certified robustness of a certificate table (None for N/A)."""
    median = certificates.median_certified_robustness(certs["robustness"].to_numpy(float))
    return None if np.isneginf(median) else int(median)


def table7(
    lee: Mapping[str, pd.DataFrame],
    standard: Mapping[str, pd.DataFrame],
    ks: Mapping[str, int],
    paper: pd.DataFrame,
    scale: str,
) -> pd.DataFrame:
    """Return Table 7: Lee et al.'s quoted medians beside ours with their and our sampling."""
    rows = []
    for dataset, certs in lee.items():
        rows.append(
            {
                "dataset": dataset,
                "k": int(ks[dataset]),
                "randomized_ablation_median_certified": _median(certs),
                "median_with_standard_sampling": _median(standard[dataset]),
                "images": len(certs),
                "n0": stage_samples(certs, "select"),
                "n": stage_samples(certs, "bound"),
                "scale": scale,
            }
        )
    ours = pd.DataFrame(rows)
    for column in ("randomized_ablation_median_certified", "median_with_standard_sampling"):
        ours[column] = ours[column].astype("Int64")
    quoted = paper[["dataset", "lee_et_al_2019_median_certified"]]
    table = ours.merge(quoted, on="dataset", how="left")
    ours_column = "randomized_ablation_median_certified"
    theirs = paper[["dataset", ours_column]].rename(columns={ours_column: f"paper_{ours_column}"})
    table = table.merge(theirs, on="dataset", how="left")
    table["lee_et_al_source"] = "quoted from Lee et al. (2019) via the paper, not measured"
    return table


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


def robustness_by_k(certs_by_k: Mapping[int, pd.DataFrame]) -> dict[int, np.ndarray]:
    """Return each k's per-image certified robustness (−inf for N/A)."""
    return {int(k): certs["robustness"].to_numpy(float) for k, certs in certs_by_k.items()}
