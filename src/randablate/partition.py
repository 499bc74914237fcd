"""Feature partition aggregation (FPA): T submodels on disjoint pixel groups, a deterministic vote.

Hammoudeh & Lowd, "Provable Robustness Against a Union of ℓ0 Adversarial Attacks" (AAAI 2024).
The d pixels are split into T fixed groups; as in their "walking" split, pixel i of the image in
row-major order goes to group i mod T (their code transposes MNIST first at T = 25 and 45, which
`order="column"` gives). Submodel t sees the image with every pixel outside group t ablated to
the encoding's NULL (a fixed keep-set instead of a random one) and is otherwise the same base
classifier as randomized ablation's. The ensemble predicts the plurality of the T votes, ties to
the smaller label. A change of ρ pixels reaches at most ρ submodels, and each changed vote closes
the gap between the top class and any other class c by at most 2, so the prediction is certified
while ρ ≤ min over c ≠ top of ⌊(N_top − N_c − [c < top]) / 2⌋: always, with no sampling.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .encoding import Encoding, get_encoding
from .files import atomic_path
from .models import build_model
from .names import check_precision
from .seeding import derive_seed
from .training import TrainingJob, TrainSettings, saved_meta, train, training_encoding

ORDERS = ("row", "column")
SCHEDULES = ("cosine", "constant")


# ------------------------------------------------------------------------------ the partition


def assign_groups(height: int, width: int, groups: int, order: str = "row") -> torch.Tensor:
    """Return each pixel's group (d,), in row-major pixel order: its position mod `groups`.

    `order="column"` numbers the pixels column by column first (the transposed image).
    """
    d = height * width
    if not 1 <= groups <= d:
        raise ValueError(f"need 1 <= groups <= d = {d}, got {groups}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    position = torch.arange(d).view(height, width)  # pixel (r, c) is number r * width + c
    if order == "column":
        position = torch.arange(d).view(width, height).t()  # pixel (r, c) is c * height + r
    return position.reshape(-1) % groups


def group_masks(height: int, width: int, groups: int, order: str = "row") -> torch.Tensor:
    """Return the (groups, d) boolean keep masks: row t keeps exactly the pixels of group t."""
    group = assign_groups(height, width, groups, order)
    return group.unsqueeze(0) == torch.arange(groups).unsqueeze(1)


class FixedKeep(nn.Module):
    """A base classifier that sees only the pixels of one fixed keep mask, the rest NULL.

    It takes coded images (N, C', H, W), as `Encoding.__call__` returns them; trained with k = d
    (every random keep-set keeps every pixel), the fixed mask is the only ablation.
    """

    def __init__(self, base: nn.Module, keep: torch.Tensor, encoding: Encoding) -> None:
        super().__init__()
        self.base = base
        self.register_buffer("keep", keep.reshape(-1).bool().clone())
        self.register_buffer("null", encoding.null(torch.device("cpu"), torch.float32))

    def forward(self, coded: torch.Tensor) -> torch.Tensor:
        """Ablate the pixels outside the keep mask, then classify."""
        h, w = coded.shape[-2:]
        keep = self.keep.view(1, 1, h, w)
        null = self.null.to(coded.dtype).view(1, -1, 1, 1)
        return self.base(torch.where(keep, coded, null))


# ------------------------------------------------------------------------------ training


def cosine_lr_schedule(lr: float, epochs: int) -> list[list[float]]:
    """Per-epoch rates [[epoch, rate], ...] that follow a cosine from `lr` towards 0.

    Each epoch takes the cosine at its midpoint, the mean of Hammoudeh & Lowd's per-step cosine
    annealing over that epoch to first order.
    """
    return [
        [epoch, lr * (1 + math.cos(math.pi * (epoch - 0.5) / epochs)) / 2]
        for epoch in range(1, epochs + 1)
    ]


def submodel_settings(training: Mapping[str, Any], seed: int) -> TrainSettings:
    """The TrainSettings of one submodel from the config's fpa.training section and its seed."""
    settings = dict(training)
    lr, schedule = float(settings.pop("lr")), settings.pop("lr_schedule")
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {schedule!r}")
    epochs = int(settings["epochs"])
    rates = cosine_lr_schedule(lr, epochs) if schedule == "cosine" else [[1, lr]]
    return TrainSettings(**settings, lr_schedule=rates, restart_optimizer=False, seed=seed)


def submodel_seed(
    base_seed: int, dataset: str, encoding: str, arch: str, groups: int, order: str, t: int
) -> int:
    """The seed of submodel t of a T-group ensemble (initialisation and training order).

    The split's order is part of it, so that a checkpoint of another split is never resumed.
    """
    return derive_seed(base_seed, "fpa-train", dataset, encoding, arch, groups, order, t)


def train_submodels(
    models: Sequence[nn.Module],
    encoding: Encoding,
    masks: torch.Tensor,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: Sequence[TrainSettings],
    checkpoint_paths: Sequence[str | os.PathLike],
    device: str | torch.device | None = None,
    log: logging.Logger | None = None,
) -> list[dict[str, Any]]:
    """Train each model on images ablated to its fixed keep mask; resumes from checkpoints.

    The one place submodels are trained: each is wrapped in `FixedKeep` and trained by
    `randablate.training.train` with k = d, so no random keep-set removes anything more.
    Returns each model's {"history": [...]}.
    """
    if not len(models) == len(masks) == len(settings) == len(checkpoint_paths):
        raise ValueError("need one mask, settings and checkpoint path per model")
    log = log or logging.getLogger(__name__)
    d = masks.shape[1]
    results = []
    for t, (model, mask, sub_settings, checkpoint) in enumerate(
        zip(models, masks, settings, checkpoint_paths, strict=True)
    ):
        log.info("submodel %d of %d: %d pixels", t + 1, len(models), int(mask.sum()))
        wrapped = FixedKeep(model, mask, encoding)
        results.append(
            train(
                wrapped,
                encoding,
                d,
                images,
                labels,
                sub_settings,
                checkpoint,
                device,
                log,
                discard_mismatched=True,
            )
        )
    return results


def save_ensemble(
    path: str | os.PathLike, models: Sequence[nn.Module], meta: dict[str, Any]
) -> None:
    """Save the submodels' weights and the metadata that rebuilds the ensemble."""
    states = [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in models]
    with atomic_path(path) as tmp:
        torch.save({"meta": dict(meta), "states": states}, tmp)


def load_ensemble(
    path: str | os.PathLike, device: str | torch.device | None = None
) -> tuple[list[nn.Module], Encoding, torch.Tensor, dict[str, Any]]:
    """Load an ensemble saved by `save_ensemble`: submodels (eval mode), encoding, masks, meta."""
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or not {"meta", "states"} <= set(blob):
        raise ValueError(f"{path} is not an ensemble file of save_ensemble ('meta', 'states')")
    meta = blob["meta"]
    encoding = get_encoding(
        meta["encoding"], meta["channels"], mean=meta["mean"], normalize=meta["normalize"]
    )
    masks = group_masks(meta["height"], meta["width"], meta["groups"], meta["order"])
    models = []
    for state in blob["states"]:
        model = build_model(meta["arch"], meta["in_channels"], meta["num_classes"])
        model.load_state_dict(state)
        models.append(model.eval().to(device or "cpu"))
    if len(models) != meta["groups"]:
        raise ValueError(
            f"{path} holds {len(models)} submodels, its metadata says {meta['groups']}"
        )
    return models, encoding, masks, meta


def train_ensemble_and_save(
    path: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    job: TrainingJob,
    *,
    groups: int,
    order: str,
    training: Mapping[str, Any],
    log: logging.Logger | None = None,
) -> None:
    """Train the T submodels of one ensemble of `job` as the pipeline does, saved in one file."""
    log = log or logging.getLogger(__name__)
    data = job.training_data()
    images, labels, num_classes = data.images, data.labels, data.num_classes
    if not isinstance(images, torch.Tensor):
        raise ValueError(
            f"feature partition aggregation trains on tensors; {job.dataset} is a Dataset"
        )
    encoding = training_encoding(job.encoding, job.dataset, images)
    height, width = images.shape[-2:]
    masks = group_masks(height, width, groups, order)
    seeds = [
        submodel_seed(job.base_seed, job.dataset, job.encoding, job.arch, groups, order, t)
        for t in range(groups)
    ]
    settings = [submodel_settings(training, seed) for seed in seeds]
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build_model(job.arch, encoding.out_channels, num_classes))
    checkpoints = [Path(checkpoint_dir) / f"group-{t}.pt" for t in range(groups)]
    Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
    log.info(
        "T=%d order=%s encoding=%s arch=%s settings=%s",
        groups,
        order,
        job.encoding,
        job.arch,
        settings[0],
    )
    started = time.monotonic()
    with job.grant.acquire(log) as device:
        results = train_submodels(
            models, encoding, masks, images, labels, settings, checkpoints, device, log
        )
    trained = {
        "groups": groups,
        "order": order,
        "height": int(height),
        "width": int(width),
        "seeds": seeds,
        "training": {**dict(training), "resolved": asdict(settings[0]) | {"seed": None}},
        "train_images": len(images),
        "histories": [r["history"] for r in results],
        "train_seconds": time.monotonic() - started,
    }
    meta = saved_meta(job, encoding, num_classes, {}, trained, device)
    save_ensemble(path, [m.cpu() for m in models], meta)


# ------------------------------------------------------------------------------ votes


@torch.no_grad()
def submodel_predictions(
    models: Sequence[nn.Module],
    encoding: Encoding,
    masks: torch.Tensor,
    images: torch.Tensor,
    batch_size: int = 1000,
    precision: str = "fp32",
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Return each submodel's predicted label on each image, (N, T): one forward pass each."""
    device = torch.device(device or "cpu")
    dtype = torch.bfloat16 if check_precision(precision) == "bf16" else None  # fp32: no autocast
    out = np.empty((len(images), len(models)), dtype=np.int64)
    wrapped = [
        FixedKeep(model, mask, encoding).to(device).eval()
        for model, mask in zip(models, masks, strict=True)
    ]
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        everything = torch.ones(len(x), x.shape[-2] * x.shape[-1], dtype=torch.bool, device=device)
        coded = encoding(x, everything)
        for t, submodel in enumerate(wrapped):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = submodel(coded)
            out[start : start + len(x), t] = logits.float().argmax(1).cpu().numpy()
    return out


def vote_counts(predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Turn predictions (N, T) into vote counts (N, num_classes)."""
    predictions = np.asarray(predictions, dtype=np.int64)
    if predictions.size and (predictions.min() < 0 or predictions.max() >= num_classes):
        raise ValueError(f"predictions must lie in 0..{num_classes - 1}")
    counts = np.zeros((len(predictions), num_classes), dtype=np.int64)
    np.add.at(counts, (np.arange(len(predictions))[:, None], predictions), 1)
    return counts


# ------------------------------------------------------------------------------ the certificate


def plurality(counts: np.ndarray) -> np.ndarray:
    """Return the plurality class of each row of vote counts (N, C), ties to the smaller label."""
    return np.asarray(counts).argmax(axis=1)  # argmax returns the first (smallest) maximum


def certified_radius(counts: np.ndarray) -> np.ndarray:
    """Return each row's certified L0 radius: min over c ≠ top of ⌊(N_top − N_c − [c < top])/2⌋."""
    counts = np.asarray(counts, dtype=np.int64)
    n, classes = counts.shape
    if classes < 2:
        raise ValueError("need at least two classes")
    top = plurality(counts)
    n_top = counts[np.arange(n), top]
    labels = np.arange(classes)
    gaps = n_top[:, None] - counts - (labels[None, :] < top[:, None])
    gaps[np.arange(n), top] = np.iinfo(np.int64).max
    return gaps.min(axis=1) // 2


def certify(counts: np.ndarray, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (prediction, radius); with labels, the radius is −1 where the prediction is wrong."""
    prediction, radius = plurality(counts), certified_radius(counts)
    if labels is not None:
        radius = np.where(prediction == np.asarray(labels), radius, -1)
    return prediction, radius


def count_ensemble_votes(
    ensemble_path: str | os.PathLike,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: np.ndarray,
    batch_size: int,
    precision: str,
    device: str | torch.device | None = None,
    log: logging.Logger | None = None,
) -> dict[str, np.ndarray]:
    """Count the ensemble's votes on images: index, label, counts (N, C), T, d and seconds."""
    log = log or logging.getLogger(__name__)
    models, encoding, masks, meta = load_ensemble(ensemble_path, device)
    started = time.monotonic()
    predictions = submodel_predictions(
        models, encoding, masks, images, batch_size, precision, device
    )
    seconds = time.monotonic() - started
    counts = vote_counts(predictions, meta["num_classes"])
    log.info(
        "T=%d: %d images, %d forward passes each, %.2f s (%.4f s an image)",
        meta["groups"],
        len(images),
        len(models),
        seconds,
        seconds / max(len(images), 1),
    )
    return {
        "index": np.asarray(indices, dtype=np.int64),
        "label": labels.numpy().astype(np.int64),
        "counts": counts,
        "groups": np.int64(meta["groups"]),
        "d": np.int64(masks.shape[1]),
        "seconds": np.float64(seconds),
    }
