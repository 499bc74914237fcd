"""Training the base classifier on ablated images, resumable from checkpoints.

As in the paper, every minibatch shares one random keep-set and k is the same as at test time.
Training data is either a tensor of images (shuffled, ablated and augmented from one seeded
generator per epoch) or a torch Dataset read through a DataLoader (ImageNet, whose resizing,
cropping and flipping are the dataset's own transforms). `train_and_save` is the pipeline's
training job: one model of a data set, encoding, architecture and k, saved with its metadata.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from .ablation import shared_keep_mask
from .data import load_training_data
from .devices import acquire_device, default_device
from .encoding import Encoding, channel_mean, dataset_encoding
from .failpoints import failpoint
from .files import atomic_path
from .models import build_model, save_model
from .provenance import git_commit, hardware, package_versions
from .seeding import derive_seed, generator

OPTIMIZERS = ("sgd", "adam", "adamw")
AUGMENTATIONS = ("none", "crop-flip", "resized-crop-flip")


@dataclass(kw_only=True)
class TrainSettings:
    """A training schedule: `epochs` and `lr_schedule` ([[first epoch, rate], ...]) are required.

    The paper's schedules (Tables 10-12) live in config.yaml. The defaults are the usual
    minibatch SGD settings and conveniences of this library (fp32, no augmentation, no weight
    decay, all training images, a checkpoint every 5 epochs, workers in this process).

    `augmentation`: "none"; "crop-flip" (CIFAR-10, Table 11: random 32x32 crop of the image
    zero-padded by 4, then a random horizontal flip, drawn per image by the training loop); or
    "resized-crop-flip" (ImageNet, Table 12: done by the Dataset's own transforms). `workers`:
    DataLoader worker processes when training from a Dataset; each epoch's random transforms are
    fixed by the seed and the number of workers, so reruns with both unchanged are identical.
    `restart_optimizer`: at each epoch where `lr_schedule` starts a new rate, continue from the
    weights with a fresh optimizer (SGD's momentum buffers, Adam's moments at zero), as the
    authors did by resuming each stage's weights in a new run.
    """

    epochs: int
    batch_size: int = 128
    optimizer: str = "sgd"
    lr_schedule: list[list[float]]
    momentum: float = 0.9
    weight_decay: float = 0.0
    precision: str = "fp32"
    checkpoint_every: int = 5
    seed: int = 0
    max_train_images: int | None = None
    augmentation: str = "none"
    workers: int = 0
    restart_optimizer: bool = True

    def __post_init__(self) -> None:
        if self.augmentation not in AUGMENTATIONS:
            raise ValueError(
                f"augmentation must be one of {AUGMENTATIONS}, got {self.augmentation!r}"
            )
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if not self.lr_schedule or int(self.lr_schedule[0][0]) != 1:
            raise ValueError(f"lr_schedule must start at epoch 1, got {self.lr_schedule!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError("epochs, batch_size and checkpoint_every must be >= 1")

    def restarts_at(self, epoch: int) -> bool:
        """Whether (1-based) `epoch` begins with a fresh optimizer."""
        return self.restart_optimizer and any(
            int(start) == epoch for start, _ in self.lr_schedule[1:]
        )

    def lr_at(self, epoch: int) -> float:
        """Learning rate in (1-based) `epoch`."""
        lr = self.lr_schedule[0][1]
        for start, value in self.lr_schedule:
            if epoch >= start:
                lr = value
        return float(lr)


def augment_crop_flip(
    x: torch.Tensor, generator: torch.Generator, padding: int = 4
) -> torch.Tensor:
    """Randomly crop each image (N, C, H, W) from its zero-padded self, then maybe flip it."""
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    n, _, h, w = x.shape
    # Draw order (relied on by tests): offsets (N, 2) as (row, column), then flips (N,).
    offsets = torch.randint(
        0, 2 * padding + 1, (n, 2), generator=generator, device=generator.device
    )
    flips = torch.randint(0, 2, (n,), generator=generator, device=generator.device).bool()
    offsets, flips = offsets.to(x.device), flips.to(x.device)
    padded = nn.functional.pad(x, (padding, padding, padding, padding))
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (N, H)
    cols = torch.arange(w, device=x.device).expand(n, w)
    cols = offsets[:, 1:] + torch.where(flips.unsqueeze(1), cols.flip(1), cols)  # (N, W)
    index = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return padded[index, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def _optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    # fused: one kernel updates every parameter (on the CPU, Adam's step drops from about a
    # quarter of an MNIST training step to a few percent); same update rule, deterministic.
    lr = settings.lr_at(1)
    if settings.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=lr,
            momentum=settings.momentum,
            weight_decay=settings.weight_decay,
            fused=True,
        )
    if settings.optimizer == "adamw":  # decoupled weight decay (feature partition aggregation)
        return torch.optim.AdamW(
            model.parameters(), lr=lr, weight_decay=settings.weight_decay, fused=True
        )
    return torch.optim.Adam(
        model.parameters(), lr=lr, weight_decay=settings.weight_decay, fused=True
    )


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _step(
    model: nn.Module,
    encoding: Encoding,
    k: int,
    x: torch.Tensor,
    y: torch.Tensor,
    gen: torch.Generator,
    optimizer: torch.optim.Optimizer,
    settings: TrainSettings,
) -> tuple[float, int]:
    """One SGD step on an ablated (and maybe augmented) minibatch; returns summed loss, correct."""
    device = x.device
    keep = shared_keep_mask(len(x), x.shape[-2] * x.shape[-1], k, gen).to(device)
    if settings.augmentation == "crop-flip":
        x = augment_crop_flip(x, gen)
    with _autocast(device, settings.precision):
        logits = model(encoding(x, keep))
    loss = nn.functional.cross_entropy(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item() * len(x), int((logits.argmax(1) == y).sum())


def _tensor_batches(
    images: torch.Tensor, labels: torch.Tensor, batch_size: int, gen: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Minibatches of a tensor of images and their labels, shuffled by `gen`."""
    order = torch.randperm(len(images), generator=gen).to(images.device)
    for start in range(0, len(images), batch_size):
        batch = order[start : start + batch_size]
        yield images[batch], labels[batch]


def _loader_batches(
    loader: DataLoader, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A DataLoader's minibatches, moved to `device`."""
    for x, y in loader:
        yield x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)


@contextlib.contextmanager
def _seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed torch's global CPU RNG for the block; restore its state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def train_epoch(
    model: nn.Module,
    encoding: Encoding,
    k: int,
    images: torch.Tensor | Dataset,
    labels: torch.Tensor | None,
    optimizer: torch.optim.Optimizer,
    settings: TrainSettings,
    epoch: int,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Run one epoch over ablated images; returns its mean loss and accuracy over all samples.

    `images` is a tensor (N, C, H, W) with its `labels`, or a Dataset of (image, label) pairs
    with `labels` None, whose batches are moved to `device` (default: the model's device).
    """
    model.train()
    gen = generator(derive_seed(settings.seed, "train-epoch", epoch))
    if isinstance(images, torch.Tensor):
        if labels is None:
            raise ValueError("labels are needed when training on a tensor of images")
        # one generator shuffles, then draws each minibatch's keep-set and crop-flips
        batches = _tensor_batches(images, labels, settings.batch_size, gen)
        draws = gen
        seeded: contextlib.AbstractContextManager = contextlib.nullcontext()
    else:
        if labels is not None:
            raise ValueError("a Dataset carries its own labels: pass labels=None")
        device = torch.device(device) if device is not None else next(model.parameters()).device
        # The loader's generator shuffles; keep-sets and crop-flips come from a second generator,
        # and the global RNG (for transforms run in this process) is reseeded, all per epoch.
        loader = DataLoader(
            images,
            batch_size=settings.batch_size,
            shuffle=True,
            generator=gen,
            num_workers=settings.workers,
            drop_last=False,
            pin_memory=device.type == "cuda",
        )
        batches = _loader_batches(loader, device)
        draws = generator(derive_seed(settings.seed, "train-epoch-ablation", epoch))
        seeded = _seeded_global_rng(derive_seed(settings.seed, "train-epoch-transforms", epoch))
    loss_sum, correct, total = 0.0, 0, 0
    with seeded:
        for x, y in batches:
            batch_loss, batch_correct = _step(model, encoding, k, x, y, draws, optimizer, settings)
            loss_sum += batch_loss
            correct += batch_correct
            total += len(x)
    return {"loss": loss_sum / total, "accuracy": correct / total}


def train(
    model: nn.Module,
    encoding: Encoding,
    k: int,
    images: torch.Tensor | Dataset,
    labels: torch.Tensor | None,
    settings: TrainSettings,
    checkpoint_path: str | os.PathLike,
    device: str | torch.device | None = None,
    log: logging.Logger | None = None,
    discard_mismatched: bool = False,
) -> dict[str, Any]:
    """Train `model` on images in [0, 1]; resumes from `checkpoint_path` if present.

    `device` defaults to CUDA when present, else the CPU (the rule `Smoothed` follows too).

    A checkpoint made with other settings or another k raises ValueError, or is deleted (and
    training starts over) when `discard_mismatched` is true, as the pipeline asks.

    `images` is a tensor (N, C, H, W) with its `labels` (N,), or a Dataset of (image, label)
    pairs with `labels` None; `settings.max_train_images` keeps the first N of either. Returns
    {"history": [...]}, one dict per epoch with its lr, seconds, loss and accuracy, the last two
    averaged over every training sample of the epoch (as ablated and augmented when it was seen,
    by the weights of that moment): Tables 4 and 5 report the final epoch's accuracy.
    """
    log = log or logging.getLogger(__name__)
    device = torch.device(device) if device is not None else default_device()
    log.info("training on %s", device)
    if isinstance(images, torch.Tensor):
        if labels is None:
            raise ValueError("labels are needed when training on a tensor of images")
        if settings.augmentation == "resized-crop-flip":
            raise ValueError(
                "resized-crop-flip is done by a Dataset's transforms; pass a Dataset, not a tensor"
            )
        if settings.max_train_images is not None:
            n = settings.max_train_images
            images, labels = images[:n], labels[:n]
        images, labels = images.to(device), labels.to(device)
    else:
        if labels is not None:
            raise ValueError("a Dataset carries its own labels: pass labels=None")
        if settings.max_train_images is not None:
            images = Subset(images, range(min(settings.max_train_images, len(images))))
    model.to(device)
    optimizer = _optimizer(model, settings)
    checkpoint = Path(checkpoint_path)
    history: list[dict[str, float]] = []
    first_epoch = 1
    state = (
        torch.load(checkpoint, map_location=device, weights_only=False)
        if checkpoint.exists()
        else None
    )
    if state is not None and (state["settings"] != asdict(settings) or state["k"] != k):
        if not discard_mismatched:
            raise ValueError(
                f"checkpoint {checkpoint} was made with other settings; delete it to start over"
            )
        log.info("removing %s: it was made with other settings", checkpoint)
        checkpoint.unlink()
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = state["history"]
        first_epoch = state["epoch"] + 1
        log.info("resuming from %s after epoch %d", checkpoint, state["epoch"])
    for epoch in range(first_epoch, settings.epochs + 1):
        if settings.restarts_at(epoch):
            optimizer = _optimizer(model, settings)
            log.info("epoch %d: a fresh optimizer, its state at zero", epoch)
        for group in optimizer.param_groups:
            group["lr"] = settings.lr_at(epoch)
        started = time.monotonic()
        stats = train_epoch(
            model, encoding, k, images, labels, optimizer, settings, epoch, device=device
        )
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


def training_encoding(name: str, dataset: str, images: torch.Tensor | Dataset) -> Encoding:
    """The encoding `name` a model of `dataset` is trained with, its NULL fixed by `images`.

    The mean encoding's NULL is the training images' channel means; for a Dataset (ImageNet)
    the usual ImageNet means, not recomputed.
    """
    mean = None
    if name == "mean" and isinstance(images, torch.Tensor):
        mean = channel_mean(images)
    return dataset_encoding(name, dataset, mean)


def train_and_save(
    model_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike,
    *,
    dataset: str,
    data_dir: str | os.PathLike,
    encoding_name: str,
    arch: str,
    k: int,
    settings: Mapping[str, Any],
    base_seed: int,
    lock_dir: str | os.PathLike,
    repo: str | os.PathLike,
    log: logging.Logger | None = None,
) -> None:
    """Train one base classifier as the pipeline does and save it with its metadata.

    `settings` is the config's training section (without the seed, which is derived from
    `base_seed` and the model's identity). Trains on the device `acquire_device` grants under
    `lock_dir`, discarding a checkpoint made with other settings. The saved metadata rebuilds
    the model and its encoding and records its training: settings, seed, number of training
    images, per-epoch history, and provenance (git commit of `repo`, packages, hardware).
    """
    log = log or logging.getLogger(__name__)
    training = load_training_data(dataset, data_dir)
    seed = derive_seed(base_seed, "train", dataset, encoding_name, arch, k)
    train_settings = TrainSettings(**settings, seed=seed)
    encoding = training_encoding(encoding_name, dataset, training.images)
    torch.manual_seed(seed)
    model = build_model(arch, encoding.out_channels, num_classes=training.num_classes)
    log.info("k=%d encoding=%s arch=%s settings=%s", k, encoding_name, arch, train_settings)
    with acquire_device(lock_dir, log=log) as device:
        result = train(
            model,
            encoding,
            k,
            training.images,
            training.labels,
            train_settings,
            checkpoint_path,
            device,
            log,
            discard_mismatched=True,
        )
    meta = {
        "arch": arch,
        "in_channels": encoding.out_channels,
        "num_classes": training.num_classes,
        "k": k,
        "dataset": dataset,
        **encoding.describe(),
        "seed": seed,
        "training": dict(settings),
        "train_images": training.count,
        "history": result["history"],
        "provenance": {
            "git_commit": git_commit(repo),
            "packages": package_versions(),
            "hardware": hardware(),
            "device": str(device),
        },
    }
    save_model(model_path, model, meta)
