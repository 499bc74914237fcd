"""Training the base classifier on ablated images, resumable from checkpoints.

As in the paper, every minibatch shares one random keep-set and k is the same as at test time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .ablation import shared_keep_mask
from .encoding import Encoding
from .failpoints import failpoint
from .files import atomic_path
from .seeding import derive_seed, generator

OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainSettings:
    """A training schedule; the defaults are the paper's MNIST schedule (Table 10)."""

    epochs: int = 400
    batch_size: int = 128
    optimizer: str = "sgd"
    lr_schedule: list[list[float]] = field(default_factory=lambda: [[1, 0.01], [201, 0.001]])
    momentum: float = 0.9
    weight_decay: float = 0.0
    precision: str = "fp32"
    checkpoint_every: int = 5
    seed: int = 0
    max_train_images: int | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if not self.lr_schedule or int(self.lr_schedule[0][0]) != 1:
            raise ValueError(f"lr_schedule must start at epoch 1, got {self.lr_schedule!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError("epochs, batch_size and checkpoint_every must be >= 1")

    def lr_at(self, epoch: int) -> float:
        """Learning rate in (1-based) `epoch`."""
        lr = self.lr_schedule[0][1]
        for start, value in self.lr_schedule:
            if epoch >= start:
                lr = value
        return float(lr)


def _optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    lr = settings.lr_at(1)
    if settings.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=lr,
            momentum=settings.momentum,
            weight_decay=settings.weight_decay,
        )
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=settings.weight_decay)


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_epoch(
    model: nn.Module,
    encoding: Encoding,
    k: int,
    images: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    settings: TrainSettings,
    epoch: int,
) -> dict[str, float]:
    """Run one epoch over ablated images; returns its mean loss and accuracy."""
    model.train()
    device = images.device
    gen = generator(derive_seed(settings.seed, "train-epoch", epoch))
    order = torch.randperm(len(images), generator=gen).to(device)
    d = images.shape[-2] * images.shape[-1]
    loss_sum, correct = 0.0, 0
    for start in range(0, len(images), settings.batch_size):
        batch = order[start : start + settings.batch_size]
        x, y = images[batch], labels[batch]
        keep = shared_keep_mask(len(batch), d, k, gen).to(device)
        with _autocast(device, settings.precision):
            logits = model(encoding(x, keep))
        loss = nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(batch)
        correct += int((logits.argmax(1) == y).sum())
    return {"loss": loss_sum / len(images), "accuracy": correct / len(images)}


def train(
    model: nn.Module,
    encoding: Encoding,
    k: int,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    checkpoint_path: str | os.PathLike,
    device: str | torch.device | None = None,
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """Train `model` on images (N, C, H, W) in [0, 1]; resumes from `checkpoint_path` if present."""
    log = log or logging.getLogger(__name__)
    device = torch.device(device) if device is not None else torch.device("cpu")
    if settings.max_train_images is not None:
        images, labels = images[: settings.max_train_images], labels[: settings.max_train_images]
    images, labels = images.to(device), labels.to(device)
    model.to(device)
    optimizer = _optimizer(model, settings)
    checkpoint = Path(checkpoint_path)
    history: list[dict[str, float]] = []
    first_epoch = 1
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        if state["settings"] != asdict(settings) or state["k"] != k:
            raise ValueError(
                f"checkpoint {checkpoint} was made with other settings; delete it to start over"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = state["history"]
        first_epoch = state["epoch"] + 1
        log.info("resuming from %s after epoch %d", checkpoint, state["epoch"])
    for epoch in range(first_epoch, settings.epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = settings.lr_at(epoch)
        started = time.monotonic()
        stats = train_epoch(model, encoding, k, images, labels, optimizer, settings, epoch)
        stats.update(epoch=epoch, lr=settings.lr_at(epoch), seconds=time.monotonic() - started)
        history.append(stats)
        log.info(
            "epoch %d/%d lr %g loss %.4f train accuracy %.4f (%.1f s)",
            epoch,
            settings.epochs,
            stats["lr"],
            stats["loss"],
            stats["accuracy"],
            stats["seconds"],
        )
        if epoch % settings.checkpoint_every == 0 or epoch == settings.epochs:
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": epoch,
                "history": history,
                "settings": asdict(settings),
                "k": k,
            }
            with atomic_path(checkpoint) as tmp:
                torch.save(state, tmp)
            failpoint("train-epoch", epoch)
    model.eval()
    return {"history": history}
