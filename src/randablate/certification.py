"""One route from vote counts to certificates, for the library and the pipeline alike.

A sampling scheme (`SamplingScheme`) names the vote stages drawn for each image, how many samples
each draws, and their roles: one stage chooses the class (n0 samples), one bounds its probability
(n fresh samples), and one, or none, gives the prediction. `certify_counts` turns the counts of
those stages into certificate rows; it is the only place where that happens:

- `Smoothed.certify` (the library and `randablate certify`) counts its scheme's stages and calls
  `certify_counts`;
- the pipeline's `count_votes` writes the counts with the scheme's record (`scheme_record`), and
  its certificate job (`certificates_job`, via `certificate_table`) reads the counts and the
  record back and calls `certify_counts`.

The certificate table carries the prediction stage on (its column `prediction_stage`), which
`prediction_stage` reads for Tables 1, 3 and 6. Files written before the scheme was recorded
(0.2.0 and earlier) are read by the two compatibility functions alone: votes by `legacy_scheme`,
with the prediction stage the workflow passes; certificate tables by `legacy_prediction_stage`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import certificates
from .files import load_npz, write_csv
from .names import STAGES

SCHEME_KEY = "scheme"  # the votes file's entry that records the sampling scheme (a JSON string)
PREDICTION_STAGE = "prediction_stage"  # a certificate table's column: the stage that predicted


@dataclass(frozen=True)
class SamplingScheme:
    """Vote stages (name -> samples per image, in drawing order) and their roles."""

    samples: Mapping[str, int]
    predict_from: str | None = None  # the stage whose counts predict (None: no prediction)
    select: str = "select"  # the stage whose counts choose the class
    bound: str = "bound"  # the stage whose counts bound the chosen class's probability

    def __post_init__(self) -> None:
        stages = {str(stage): int(n) for stage, n in self.samples.items()}
        for role, stage in (("select", self.select), ("bound", self.bound)):
            if stage not in stages:
                raise ValueError(f"the {role} stage {stage!r} is not among the stages {stages}")
        if self.predict_from is not None and self.predict_from not in stages:
            raise ValueError(f"the votes have no {self.predict_from!r} stage to predict from")
        if any(n < 1 for n in stages.values()):
            raise ValueError(f"every stage needs >= 1 sample, got {stages}")
        object.__setattr__(self, "samples", stages)

    @property
    def stages(self) -> dict[str, int]:
        """The stages, checked, as a plain dict: stage -> samples per image, in drawing order."""
        return self.samples

    def describe(self) -> dict[str, object]:
        """The scheme as plain data (what `scheme_record` writes)."""
        return {
            "samples": dict(self.stages),
            "select": self.select,
            "bound": self.bound,
            "predict_from": self.predict_from,
        }


def scheme_record(scheme: SamplingScheme) -> dict[str, np.ndarray]:
    """The entry a votes file records its scheme in: {SCHEME_KEY: a 0-d JSON string}."""
    return {SCHEME_KEY: np.array(json.dumps(scheme.describe(), sort_keys=True))}


def has_scheme(votes: Mapping[str, np.ndarray]) -> bool:
    """Whether a votes file records its sampling scheme (written after 0.2.0)."""
    return SCHEME_KEY in votes


def read_scheme(votes: Mapping[str, np.ndarray]) -> SamplingScheme:
    """The sampling scheme a votes file records, checked against its n_<stage> entries."""
    if not has_scheme(votes):
        raise ValueError(
            "the votes record no sampling scheme (written before it was recorded): "
            "read them with legacy_scheme"
        )
    record = json.loads(str(votes[SCHEME_KEY]))
    scheme = SamplingScheme(
        record["samples"], record["predict_from"], record["select"], record["bound"]
    )
    for stage, n in scheme.stages.items():
        if f"n_{stage}" in votes and int(votes[f"n_{stage}"]) != n:
            raise ValueError(
                f"the votes record {n} {stage} samples in their scheme but "
                f"n_{stage} = {int(votes[f'n_{stage}'])}"
            )
    return scheme


def legacy_scheme(votes: Mapping[str, np.ndarray], predict_from: str | None) -> SamplingScheme:
    """Compatibility: the scheme of a votes file written before schemes were recorded.

    Such files (0.2.0 and earlier, and finished shards of runs started then) hold select and
    bound stages and, where the prediction had samples of its own, a predict stage, each with
    its n_<stage>; which stage predicted was decided by the workflow, which passes it here.
    """
    samples = {
        stage: int(votes[f"n_{stage}"])
        if f"n_{stage}" in votes
        else int(np.asarray(votes[f"counts_{stage}"]).sum(axis=1).max(initial=1))
        for stage in STAGES
        if f"counts_{stage}" in votes
    }
    return SamplingScheme(samples, predict_from)


def votes_scheme(
    votes: Mapping[str, np.ndarray], predict_from: str | None = None
) -> SamplingScheme:
    """The scheme of a votes file: its record, else (an older file) `legacy_scheme`.

    `predict_from` is the prediction stage the caller expects (the workflow's); a recorded
    scheme that predicts from another stage is refused: the votes were counted for another
    scheme.
    """
    if not has_scheme(votes):
        return legacy_scheme(votes, predict_from)
    scheme = read_scheme(votes)
    if scheme.predict_from != predict_from:
        raise ValueError(
            f"the votes were counted for a scheme that predicts from {scheme.predict_from!r}, "
            f"but {predict_from!r} was asked for: count them again under this config"
        )
    return scheme


def certify_counts(
    counts: Mapping[str, np.ndarray], scheme: SamplingScheme, alpha: float, d: int, k: int
) -> pd.DataFrame:
    """One row per image: guess, p_lower, radius, and the prediction where the scheme makes one.

    `counts` maps each stage of the scheme to its (images, classes) vote counts. The guess is
    the top class of the select stage's counts; p_lower its Clopper–Pearson lower bound at
    level alpha from the bound stage's counts; radius the certified L0 radius (−1: none); the
    prediction (−1: abstain) the top class of the predict stage's counts where its top two are
    separated at level alpha.
    """
    for stage, n in scheme.stages.items():
        if stage not in counts:
            raise ValueError(f"no counts of the {stage!r} stage of the scheme")
        totals = np.unique(np.asarray(counts[stage]).sum(axis=1))
        if totals.size and (totals.size > 1 or int(totals[0]) != n):
            raise ValueError(f"the {stage!r} counts sum to {totals.tolist()}, not {n} samples")
    guess, p_lower, radius = certificates.certify_from_counts(
        counts[scheme.select], counts[scheme.bound], alpha, d, k
    )
    rows = pd.DataFrame({"guess": guess, "p_lower": p_lower, "radius": radius})
    if scheme.predict_from is not None:
        rows["prediction"] = certificates.predict_from_counts(counts[scheme.predict_from], alpha)
    return rows


def certificate_table(
    votes: Mapping[str, np.ndarray], alpha: float, scheme: SamplingScheme | None = None
) -> pd.DataFrame:
    """The pipeline's certificate rows of a votes file (`count_votes`): one row per image.

    Columns: index, label, guess, p_lower, radius, robustness, and where the scheme predicts,
    prediction and correct; then the raw counts <stage>_<class> of the select, bound and
    predict stages present; last, where the scheme predicts, prediction_stage (the stage the
    prediction came from). `scheme` None reads the votes file's record.
    """
    scheme = read_scheme(votes) if scheme is None else scheme
    d, k = int(votes["d"]), int(votes["k"])
    label = np.asarray(votes["label"], dtype=np.int64)
    counts = {stage: votes[f"counts_{stage}"] for stage in scheme.stages}
    rows = certify_counts(counts, scheme, alpha, d, k)
    table = pd.DataFrame(
        {
            "index": np.asarray(votes["index"], dtype=np.int64),
            "label": label,
            "guess": rows["guess"],
            "p_lower": rows["p_lower"],
            "radius": rows["radius"],
            "robustness": certificates.robustness(rows["guess"], label, rows["radius"]),
        }
    )
    if "prediction" in rows:
        table["prediction"] = rows["prediction"]
        table["correct"] = rows["prediction"] == label
    raw = {
        f"{stage}_{c}": np.asarray(votes[f"counts_{stage}"][:, c], dtype=np.int64)
        for stage in STAGES
        if f"counts_{stage}" in votes
        for c in range(votes[f"counts_{stage}"].shape[1])
    }
    table = pd.concat([table, pd.DataFrame(raw)], axis=1)
    if scheme.predict_from is not None:  # the scheme travels on with the counts
        table[PREDICTION_STAGE] = scheme.predict_from
    return table


def prediction_stage(certs: pd.DataFrame) -> str:
    """The stage whose counts predicted in a certificate table: its recorded column, else legacy."""
    if PREDICTION_STAGE not in certs.columns:
        return legacy_prediction_stage(certs)
    stages = certs[PREDICTION_STAGE].unique()
    if len(stages) != 1:
        raise ValueError(f"the images were predicted from different stages: {sorted(stages)}")
    return str(stages[0])


def legacy_prediction_stage(certs: pd.DataFrame) -> str:
    """Compatibility: the prediction stage of a certificate table written before it was recorded.

    Such tables (0.2.0 and earlier, and the checked-in reference/mnist-k45) write predict_<c>
    columns only where the prediction had samples of its own; else it came from the bound stage.
    """
    return "predict" if any(c.startswith("predict_") for c in certs.columns) else "bound"


def certificates_job(
    votes_path: str | os.PathLike,
    out_path: str | os.PathLike,
    alpha: float,
    predict_from: str | None,
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """The pipeline's certificate job: read a votes file and its scheme, write the rows as CSV.

    `predict_from` is the workflow's prediction stage: checked against the recorded scheme, or
    (an older votes file) taken as its scheme's (`legacy_scheme`).
    """
    log = log or logging.getLogger(__name__)
    votes = load_npz(votes_path)
    if not has_scheme(votes):
        log.info("%s records no sampling scheme (an older file): read by legacy_scheme", votes_path)
    scheme = votes_scheme(votes, predict_from)
    table = certificate_table(votes, alpha, scheme)
    write_csv(table, out_path)
    log.info("%d images, alpha=%g, scheme %s", len(table), alpha, scheme.describe())
    return table
