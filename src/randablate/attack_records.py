"""What the attack stores: each start's and each image's result, and their rows in the .npz.

A shard's file holds one row per image (`PER_IMAGE`) and the job's settings as scalars
(`shard_header`); its checkpoint also holds the finished starts of the image being attacked
(`START_FIELDS`), so that a killed job resumes start by start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .attack import AttackSettings
    from .smoothing import Smoothed


@dataclass
class StartResult:
    """One start of the attack on one image."""

    start: int
    seed: int
    found: bool
    l0: float
    image: torch.Tensor
    queries: int
    budget_spent: bool
    samples: int = 0
    seconds: float = 0.0


@dataclass
class ImageResult:
    """The attack on one image: the best start's image and what a fresh full query said of it."""

    index: int
    label: int
    status: str
    l0: float
    query_l0: float
    best_start: int
    clean_counts: np.ndarray
    clean_prediction: int
    adv_image: torch.Tensor
    adv_counts: np.ndarray
    adv_prediction: int
    start_l0: np.ndarray
    start_queries: np.ndarray
    queries: int
    samples: int
    budget_bound: bool
    seconds: float
    starts: list[StartResult] = field(default_factory=list, repr=False)


PER_IMAGE = (
    "index",
    "label",
    "status",
    "l0",
    "query_l0",
    "best_start",
    "clean_counts",
    "clean_prediction",
    "clean_image",
    "adv_image",
    "adv_counts",
    "adv_prediction",
    "start_l0",
    "start_queries",
    "queries",
    "samples",
    "budget_bound",
    "seconds",
)


def shard_header(smoothed: Smoothed, settings: AttackSettings, seed: int, d: int) -> dict:
    """Scalars that identify a shard's job, stored in its file and checked on resume."""
    header = {name: np.asarray(value) for name, value in asdict(settings).items()}
    header["max_queries"] = np.int64(-1 if settings.max_queries is None else settings.max_queries)
    header.update(k=np.int64(smoothed.k), d=np.int64(d), seed=np.int64(seed))
    header["precision"] = np.asarray(smoothed.precision)
    return header


# The finished starts of the image being attacked, as a checkpoint holds them (StartResult's
# fields; `image` per start (1, C, H, W)).
START_FIELDS = ("found", "l0", "image", "queries", "budget_spent", "samples", "seconds", "seed")


def start_progress(index: int, starts: Sequence[StartResult]) -> dict[str, np.ndarray]:
    """Checkpoint arrays of the finished starts of the image `index` (in start order)."""
    progress = {"current_index": np.int64(index)}
    for name in START_FIELDS:
        values = [getattr(start, name) for start in starts]
        if name == "image":
            values = [value.numpy() for value in values]
        progress[f"current_start_{name}"] = np.stack([np.asarray(v) for v in values])
    return progress


def resumed_starts(partial: dict[str, np.ndarray] | None, index: int) -> list[StartResult]:
    """The finished starts of image `index` in a checkpoint; none if it holds another image's."""
    if partial is None or "current_index" not in partial or int(partial["current_index"]) != index:
        return []
    arrays = {name: partial[f"current_start_{name}"] for name in START_FIELDS}
    return [
        StartResult(
            start=start,
            seed=int(arrays["seed"][start]),
            found=bool(arrays["found"][start]),
            l0=float(arrays["l0"][start]),
            image=torch.from_numpy(np.array(arrays["image"][start])),
            queries=int(arrays["queries"][start]),
            budget_spent=bool(arrays["budget_spent"][start]),
            samples=int(arrays["samples"][start]),
            seconds=float(arrays["seconds"][start]),
        )
        for start in range(len(arrays["seed"]))
    ]


def stack_rows(rows: dict[str, list]) -> dict[str, np.ndarray]:
    """Per-image lists as arrays, one row per image."""
    out = {name: np.stack([np.asarray(v) for v in values]) for name, values in rows.items()}
    out["status"] = out["status"].astype("<U12")
    return out
