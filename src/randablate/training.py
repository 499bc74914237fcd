"""Training the base classifier on ablated images, resumable from checkpoints.

As in the paper, every minibatch shares one random keep-set and k is the same as at test time.
Training data is either a tensor of images (shuffled, ablated and augmented from streams seeded
per epoch, `randablate.training_draws`) or a torch Dataset read through a DataLoader (ImageNet,
whose resizing, cropping and flipping are the dataset's own transforms). `train_many` trains
several models as one, each as `train` would alone. `train_and_save` is the pipeline's training
job: one model of a data set, encoding, architecture and k, saved with its metadata
(`train_group_and_save`: several k at once).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.data import DataLoader, Dataset, Subset

from .data import TrainingData, load_training_data
from .devices import DeviceGrant, default_device
from .encoding import Encoding, channel_mean, dataset_encoding
from .failpoints import failpoint
from .files import atomic_path
from .models import build_model, save_model
from .names import check_precision
from .provenance import model_provenance
from .seeding import derive_seed, generator
from .training_draws import (
    EpochKeepSets,
    crop_flip,
    crop_flip_draws,
    epoch_orders,
    epoch_seeds,
)

OPTIMIZERS = ("sgd", "adam", "adamw")
AUGMENTATIONS = ("none", "crop-flip", "resized-crop-flip")


@dataclass(kw_only=True)
class TrainSettings:
    """A training schedule: `epochs` and `lr_schedule` ([[first epoch, rate], ...]) are required.

    The paper's schedules (Tables 10-12) live in config/config.yaml. The defaults are the usual
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
        check_precision(self.precision)
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
    n = len(x)
    # Draw order (relied on by tests): offsets (N, 2) as (row, column), then flips (N,).
    offsets = torch.randint(
        0, 2 * padding + 1, (n, 2), generator=generator, device=generator.device
    )
    flips = torch.randint(0, 2, (n,), generator=generator, device=generator.device).bool()
    return crop_flip(x, offsets.to(x.device), flips.to(x.device), padding)


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


CROP_PADDING = 4  # Table 11: a 32x32 crop of the image zero-padded by 4


def _step(
    model: Callable[[torch.Tensor], torch.Tensor],
    encoding: Encoding,
    k: int,
    x: torch.Tensor,
    y: torch.Tensor,
    seeds: Mapping[str, torch.Tensor],
    keep_sets: EpochKeepSets,
    batch_index: int,
    start: int,
    optimizer: torch.optim.Optimizer,
    settings: TrainSettings,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on an ablated (and maybe augmented) minibatch; returns summed loss, correct.

    The minibatch is number `batch_index` of its epoch and starts at position `start`; both
    statistics stay on the device.
    """
    device = x.device
    d = x.shape[-2] * x.shape[-1]
    keep = keep_sets[batch_index].expand(len(x), d)
    if settings.augmentation == "crop-flip":
        positions = start + torch.arange(len(x), device=device)
        offsets, flips = crop_flip_draws(seeds["augment"].view(1), positions, CROP_PADDING)
        x = crop_flip(x, offsets[0], flips[0], CROP_PADDING)
    with _autocast(device, settings.precision):
        logits = model(encoding(x, keep))
    loss = nn.functional.cross_entropy(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach() * len(x), (logits.argmax(1) == y).sum()


def _device_seeds(seed: int, epoch: int, device: torch.device) -> dict[str, torch.Tensor]:
    """`epoch_seeds` as int64 scalars on `device` (copied once an epoch, not once a step)."""
    return {
        name: torch.tensor(value, dtype=torch.int64, device=device)
        for name, value in epoch_seeds(seed, epoch).items()
    }


def _tensor_batches(
    images: torch.Tensor, labels: torch.Tensor, batch_size: int, order: torch.Tensor
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Minibatches of a tensor of images and their labels, in `order`."""
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
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float]:
    """Run one epoch over ablated images; returns its mean loss and accuracy over all samples.

    `images` is a tensor (N, C, H, W) with its `labels`, or a Dataset of (image, label) pairs
    with `labels` None, whose batches are moved to `device` (default: the model's device).
    `forward` computes the logits in place of `model` (a compiled `model`). Every draw comes
    from the epoch's streams on the device (see `epoch_seeds`); the statistics are read back once.
    """
    model.train()
    forward = forward or model
    if isinstance(images, torch.Tensor):
        if labels is None:
            raise ValueError("labels are needed when training on a tensor of images")
        seeds = _device_seeds(settings.seed, epoch, images.device)
        order = epoch_orders(seeds["shuffle"].view(1), len(images))[0]
        batches = _tensor_batches(images, labels, settings.batch_size, order)
        seeded: contextlib.AbstractContextManager = contextlib.nullcontext()
    else:
        if labels is not None:
            raise ValueError("a Dataset carries its own labels: pass labels=None")
        device = torch.device(device) if device is not None else next(model.parameters()).device
        seeds = _device_seeds(settings.seed, epoch, device)
        # The loader's generator shuffles and the global RNG (for transforms run in this
        # process) is reseeded, both per epoch; keep-sets and crop-flips come from the streams.
        loader = DataLoader(
            images,
            batch_size=settings.batch_size,
            shuffle=True,
            generator=generator(derive_seed(settings.seed, "train-epoch", epoch)),
            num_workers=settings.workers,
            drop_last=False,
            pin_memory=device.type == "cuda",
        )
        batches = _loader_batches(loader, device)
        seeded = _seeded_global_rng(derive_seed(settings.seed, "train-epoch-transforms", epoch))
    loss_sum: torch.Tensor | float = 0.0
    correct: torch.Tensor | int = 0
    total = 0
    keep_sets = None
    with seeded:
        for batch_index, (x, y) in enumerate(batches):
            if keep_sets is None:
                keep_sets = EpochKeepSets(seeds["ablation"].view(1), [k], x.shape[-2] * x.shape[-1])
            batch_loss, batch_correct = _step(
                forward,
                encoding,
                k,
                x,
                y,
                seeds,
                keep_sets,
                batch_index,
                total,
                optimizer,
                settings,
            )
            loss_sum = loss_sum + batch_loss
            correct = correct + batch_correct
            total += len(x)
    return {"loss": float(loss_sum) / total, "accuracy": int(correct) / total}


def _compiled(function: Callable, device: torch.device, log: logging.Logger) -> Callable | None:
    """`function` compiled with CUDA graphs on a CUDA `device`; None (run eagerly) elsewhere."""
    if device.type != "cuda":
        log.info("compile_step: only on CUDA; running eagerly on %s", device)
        return None
    log.info("compile_step: torch.compile(mode='reduce-overhead') on %s", device)
    return torch.compile(function, mode="reduce-overhead")


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
    compile_step: bool = False,
) -> dict[str, Any]:
    """Train `model` on images in [0, 1]; resumes from `checkpoint_path` if present.

    `device` defaults to CUDA when present, else the CPU (the rule `Smoothed` follows too).
    `compile_step`: on CUDA, run the model through `torch.compile(mode="reduce-overhead")` (CUDA
    graphs); ignored on other devices.

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
    forward = _compiled(model, device, log) if compile_step else None
    optimizer = _optimizer(model, settings)
    checkpoint = Path(checkpoint_path)
    history: list[dict[str, float]] = []
    first_epoch = 1
    state = _load_checkpoint(checkpoint, k, settings, device, log, discard_mismatched)
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
            model,
            encoding,
            k,
            images,
            labels,
            optimizer,
            settings,
            epoch,
            device=device,
            forward=forward,
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


# --- Many models trained as one ------------------------------------------------------------

# Settings a group trained by `train_many` must share: one minibatch schedule for all.
GROUP_SHARED = (
    "epochs",
    "batch_size",
    "optimizer",
    "precision",
    "augmentation",
    "checkpoint_every",
    "max_train_images",
)
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, which `train` uses


def _rows(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-model `values` (M,) shaped to broadcast over a stacked tensor (M, ...)."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class StackedOptimizer:
    """torch's SGD (momentum, no dampening) or Adam, over parameters stacked (M, ...) for M models.

    Each model has its own learning rate, momentum and weight decay (from its settings) and its
    own state, which `restart` zeroes. The update is the one torch.optim.SGD / Adam make (L2
    weight decay added to the gradient), so that a model trained in a group follows `train`.
    """

    def __init__(self, params: Mapping[str, torch.Tensor], settings: list[TrainSettings]):
        self.kind = settings[0].optimizer
        device = next(iter(params.values())).device
        self.momentum = torch.tensor([s.momentum for s in settings], device=device)
        self.weight_decay = torch.tensor([s.weight_decay for s in settings], device=device)
        self.any_decay = any(s.weight_decay for s in settings)  # a host bool: no sync to read
        self.lr = torch.tensor([s.lr_at(1) for s in settings], device=device)
        names = ("momentum_buffer",) if self.kind == "sgd" else ("exp_avg", "exp_avg_sq")
        self.state = {
            name: {key: torch.zeros_like(p) for key in names} for name, p in params.items()
        }
        self.steps = torch.zeros(len(settings), dtype=torch.float64, device=device)

    def restart(self, rows: list[int]) -> None:
        """Zero the state of the models `rows` (a fresh optimizer for them)."""
        for state in self.state.values():
            for tensor in state.values():
                tensor[rows] = 0
        self.steps[rows] = 0

    @torch.no_grad()
    def step(
        self, params: Mapping[str, torch.Tensor], grads: Mapping[str, torch.Tensor] | None = None
    ) -> None:
        """Update every model's parameters from `grads` (default: their .grad)."""
        self.steps += 1
        decay = bool(self.any_decay)
        if self.kind == "adam":
            beta1, beta2 = ADAM_BETAS
            step_size = (self.lr / (1 - beta1**self.steps)).float()
            root = (1 - beta2**self.steps).sqrt().float()
        for name, p in params.items():
            grad = p.grad if grads is None else grads[name]
            if decay:
                grad = grad.addcmul(_rows(self.weight_decay, p), p)
            state = self.state[name]
            if self.kind == "sgd":
                # a zero buffer times momentum, plus the gradient, is torch's first buffer
                buf = state["momentum_buffer"]
                buf.mul_(_rows(self.momentum, p)).add_(grad)
                p.addcmul_(_rows(self.lr, p), buf, value=-1)
                continue
            state["exp_avg"].lerp_(grad, 1 - beta1)
            state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (state["exp_avg_sq"].sqrt() / _rows(root, p)).add_(ADAM_EPS)
            p.addcdiv_(_rows(step_size, p) * state["exp_avg"], denom, value=-1)

    def torch_state(self, row: int, model: nn.Module, settings: TrainSettings) -> dict:
        """Model `row`'s state as the state_dict of the optimizer `train` makes for `model`."""
        optimizer = _optimizer(model, settings)
        for name, p in model.named_parameters():
            state = {key: t[row].clone() for key, t in self.state[name].items()}
            if self.kind == "adam":
                state["step"] = torch.tensor(float(self.steps[row]), device=p.device)
            optimizer.state[p] = state
        return optimizer.state_dict()

    def load_torch_state(
        self, row: int, model: nn.Module, settings: TrainSettings, state_dict: dict
    ) -> None:
        """Take model `row`'s state from a state_dict of `train`'s optimizer for `model`."""
        optimizer = _optimizer(model, settings)
        optimizer.load_state_dict(state_dict)
        steps = 0.0
        for name, p in model.named_parameters():
            state = optimizer.state.get(p, {})
            for key, tensor in self.state[name].items():
                value = state.get(key)
                tensor[row] = 0 if value is None else value
            steps = float(state.get("step", steps))
        self.steps[row] = steps


def _check_group(
    models: list[nn.Module], ks: list[int], settings: list[TrainSettings], paths: list
) -> None:
    """Refuse a group that cannot train as one: lengths, shared settings, architectures, buffers."""
    if not models:
        raise ValueError("train_many needs at least one model")
    if not len(models) == len(ks) == len(settings) == len(paths):
        raise ValueError(
            f"train_many needs one k, settings and checkpoint path per model: {len(models)} "
            f"models, {len(ks)} ks, {len(settings)} settings, {len(paths)} checkpoint paths"
        )
    for key in GROUP_SHARED:
        values = {repr(getattr(s, key)) for s in settings}
        if len(values) > 1:
            raise ValueError(
                f"train_many trains a group on one schedule: setting {key!r} differs "
                f"between the models ({', '.join(sorted(values))})"
            )
    shapes = [{n: p.shape for n, p in m.named_parameters()} for m in models]
    if any(s != shapes[0] for s in shapes[1:]):
        raise ValueError("train_many needs models of one architecture (the same parameters)")
    for model in models:
        buffers = [name for name, _ in model.named_buffers()]
        if buffers:
            raise ValueError(
                f"train_many cannot stack models with buffers (e.g. BatchNorm): {buffers[:3]}; "
                "train them one by one with train"
            )


def _load_checkpoint(
    path: Path,
    k: int,
    settings: TrainSettings,
    device: torch.device,
    log: logging.Logger,
    discard_mismatched: bool,
) -> dict | None:
    """The checkpoint at `path` (None when absent); one of other settings or k is refused,
    or deleted (None) when `discard_mismatched`."""
    if not path.exists():
        return None
    state = torch.load(path, map_location=device, weights_only=False)
    if state["settings"] == asdict(settings) and state["k"] == k:
        return state
    if not discard_mismatched:
        raise ValueError(f"checkpoint {path} was made with other settings; delete it to start over")
    log.info("removing %s: it was made with other settings", path)
    path.unlink()
    return None


def _resume_states(
    paths: list[Path],
    ks: list[int],
    settings: list[TrainSettings],
    device: torch.device,
    log: logging.Logger,
    discard_mismatched: bool,
) -> list[dict | None]:
    """Each model's checkpoint (None where absent), refused or discarded as `train` does."""
    states = []
    for path, k, s in zip(paths, ks, settings, strict=True):
        states.append(_load_checkpoint(path, k, s, device, log, discard_mismatched))
    epochs = {None if state is None else state["epoch"] for state in states}
    if len(epochs) > 1:
        if not discard_mismatched:
            raise ValueError(
                f"the checkpoints {', '.join(map(str, paths))} are at different epochs "
                f"({sorted(epochs, key=str)}); delete them to start the group over"
            )
        log.info("removing the group's checkpoints: they are at different epochs")
        for path in paths:
            path.unlink(missing_ok=True)
        states = [None] * len(paths)
    return states


def _many_epoch(
    loss_fn: Callable,
    params: Mapping[str, torch.Tensor],
    optimizer: StackedOptimizer,
    encoding: Encoding,
    ks: list[int],
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: list[TrainSettings],
    epoch: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch of every model; returns each one's summed loss and correct count (M,) on device."""
    device, shared = images.device, settings[0]
    seeds = {
        name: torch.tensor(
            [epoch_seeds(s.seed, epoch)[name] for s in settings], dtype=torch.int64, device=device
        )
        for name in ("shuffle", "ablation", "augment")
    }
    n, d, count = len(images), images.shape[-2] * images.shape[-1], len(settings)
    orders = epoch_orders(seeds["shuffle"], n)
    keep_sets = EpochKeepSets(seeds["ablation"], ks, d)
    loss_sum = torch.zeros(count, device=device)
    correct = torch.zeros(count, dtype=torch.long, device=device)
    for batch_index, start in enumerate(range(0, n, shared.batch_size)):
        index = orders[:, start : start + shared.batch_size]  # (M, B)
        x, y = images[index], labels[index]
        batch = index.shape[1]
        keep = keep_sets[batch_index]
        flat = x.flatten(0, 1)
        if shared.augmentation == "crop-flip":
            positions = start + torch.arange(batch, device=device)
            offsets, flips = crop_flip_draws(seeds["augment"], positions, CROP_PADDING)
            flat = crop_flip(flat, offsets.flatten(0, 1), flips.flatten(), CROP_PADDING)
        with _autocast(device, shared.precision):
            coded = encoding(flat, keep.unsqueeze(1).expand(count, batch, d).flatten(0, 1))
            losses, logits = loss_fn(params, coded.unflatten(0, (count, batch)), y)
        grads = torch.autograd.grad(losses.sum(), list(params.values()))
        optimizer.step(params, dict(zip(params, grads, strict=True)))
        loss_sum += losses.detach() * batch
        correct += (logits.argmax(-1) == y).sum(1)
    return loss_sum, correct


def train_many(
    models: list[nn.Module],
    encoding: Encoding,
    ks: list[int],
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: list[TrainSettings],
    checkpoint_paths: list[str | os.PathLike],
    device: str | torch.device | None = None,
    log: logging.Logger | None = None,
    discard_mismatched: bool = False,
    compile_step: bool = False,
) -> list[dict[str, Any]]:
    """Train models of one architecture together, each as `train` would alone; one step for all.

    Model i trains with ks[i] and settings[i] (its seed: its own shuffle, keep-sets and
    crop-flips) and checkpoints to checkpoint_paths[i] in `train`'s format, so either function
    resumes the other's checkpoints; mismatched ones are refused or discarded as in `train`. Every
    minibatch runs one vmapped forward and backward pass of all the models over their parameters
    stacked, and one `StackedOptimizer` step. The group shares GROUP_SHARED settings; models with
    buffers (BatchNorm) and Datasets are refused. Returns one {"history": [...]} per model.
    """
    log = log or logging.getLogger(__name__)
    models, ks, settings = list(models), [int(k) for k in ks], list(settings)
    paths = [Path(p) for p in checkpoint_paths]
    _check_group(models, ks, settings, paths)
    if not isinstance(images, torch.Tensor) or labels is None:
        raise ValueError("train_many trains on a tensor of images with its labels")
    shared = settings[0]
    if shared.augmentation == "resized-crop-flip":
        raise ValueError("resized-crop-flip is done by a Dataset's transforms; use train")
    device = torch.device(device) if device is not None else default_device()
    log.info("training %d models together on %s", len(models), device)
    if shared.max_train_images is not None:
        images, labels = images[: shared.max_train_images], labels[: shared.max_train_images]
    images, labels = images.to(device), labels.to(device)
    for model in models:
        model.to(device)
    states = _resume_states(paths, ks, settings, device, log, discard_mismatched)
    for model, state in zip(models, states, strict=True):
        if state is not None:
            model.load_state_dict(state["model"])
    params = {
        name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
        .clone()
        .requires_grad_()
        for name, _ in models[0].named_parameters()
    }
    optimizer = StackedOptimizer(params, settings)
    histories: list[list[dict[str, float]]] = [[] for _ in models]
    first_epoch = 1
    if states[0] is not None:
        for row, state in enumerate(states):
            optimizer.load_torch_state(row, models[row], settings[row], state["optimizer"])
            histories[row] = state["history"]
        first_epoch = states[0]["epoch"] + 1
        log.info("resuming the group from its checkpoints after epoch %d", first_epoch - 1)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def losses(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> tuple:
        logits = functional_call(skeleton, p, (x,))
        return nn.functional.cross_entropy(logits.float(), y), logits

    loss_fn = torch.func.vmap(losses)
    if compile_step:
        loss_fn = _compiled(loss_fn, device, log) or loss_fn
    for model in models:
        model.train()
    for epoch in range(first_epoch, shared.epochs + 1):
        restarted = [row for row, s in enumerate(settings) if s.restarts_at(epoch)]
        if restarted:
            optimizer.restart(restarted)
            log.info("epoch %d: a fresh optimizer for models %s", epoch, restarted)
        optimizer.lr = torch.tensor([s.lr_at(epoch) for s in settings], device=device)
        started = time.monotonic()
        loss_sum, correct = _many_epoch(
            loss_fn, params, optimizer, encoding, ks, images, labels, settings, epoch
        )
        seconds = time.monotonic() - started
        for row, (loss, right) in enumerate(zip(loss_sum.tolist(), correct.tolist(), strict=True)):
            stats = {"loss": loss / len(images), "accuracy": right / len(images)}
            stats.update(epoch=epoch, lr=settings[row].lr_at(epoch), seconds=seconds)
            histories[row].append(stats)
            log.info(
                "epoch %d/%d k=%d lr %g loss %.4f train accuracy %.4f",
                epoch,
                shared.epochs,
                ks[row],
                stats["lr"],
                stats["loss"],
                stats["accuracy"],
            )
        log.info("epoch %d of %d models: %.1f s", epoch, len(models), seconds)
        if epoch % shared.checkpoint_every == 0 or epoch == shared.epochs:
            _unstack(params, models)
            for row, (model, path) in enumerate(zip(models, paths, strict=True)):
                state = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.torch_state(row, model, settings[row]),
                    "epoch": epoch,
                    "history": histories[row],
                    "settings": asdict(settings[row]),
                    "k": ks[row],
                }
                with atomic_path(path) as tmp:
                    torch.save(state, tmp)
            failpoint("train-epoch", epoch)
    _unstack(params, models)
    for model in models:
        model.eval()
    return [{"history": history} for history in histories]


@torch.no_grad()
def _unstack(params: Mapping[str, torch.Tensor], models: list[nn.Module]) -> None:
    """Copy each model's slice of the stacked parameters into the model."""
    for row, model in enumerate(models):
        for name, p in model.named_parameters():
            p.copy_(params[name][row])


def training_encoding(name: str, dataset: str, images: torch.Tensor | Dataset) -> Encoding:
    """The encoding `name` a model of `dataset` is trained with, its NULL fixed by `images`.

    The mean encoding's NULL is the training images' channel means; for a Dataset (ImageNet)
    the usual ImageNet means, not recomputed.
    """
    mean = None
    if name == "mean" and isinstance(images, torch.Tensor):
        mean = channel_mean(images)
    return dataset_encoding(name, dataset, mean)


@dataclass(frozen=True)
class TrainingJob:
    """What the models one training job saves share: data, encoding, architecture, seed, device."""

    data: Mapping[str, Any]  # the data set's name ("dataset") and folder ("dir")
    encoding: str
    arch: str
    base_seed: int  # each model's seed is derived from it and the model's identity
    grant: DeviceGrant
    repo: str | os.PathLike  # the checkout whose git commit the provenance records

    @property
    def dataset(self) -> str:
        """The data set's name."""
        return self.data["dataset"]

    def training_data(self) -> TrainingData:
        """The data set's training images (`data.load_training_data`)."""
        return load_training_data(self.dataset, self.data["dir"])


def saved_meta(
    job: TrainingJob,
    encoding: Encoding,
    num_classes: int,
    identity: Mapping[str, Any],
    trained: Mapping[str, Any],
    device: str,
) -> dict[str, Any]:
    """The metadata a trained model is saved with: how to rebuild it, its training, provenance."""
    return {
        "arch": job.arch,
        "in_channels": encoding.out_channels,
        "num_classes": num_classes,
        **identity,
        "dataset": job.dataset,
        **encoding.describe(),
        **trained,
        "provenance": model_provenance(job.repo, device=device),
    }


def train_and_save(
    model_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike,
    job: TrainingJob,
    *,
    k: int,
    settings: Mapping[str, Any],
    log: logging.Logger | None = None,
    compile_step: bool = False,
) -> None:
    """Train one base classifier of `job` at `k` as the pipeline does and save it with its metadata.

    `settings` is the config's training section (without the seed, which is derived from
    the job's base seed and the model's identity). Trains on the device the job's grant gives,
    discarding a checkpoint made with other settings. The saved metadata rebuilds the model and
    its encoding and records its training: settings, seed, number of training images, per-epoch
    history, and provenance (git commit of the job's repo, packages, hardware).
    """
    train_group_and_save(
        [model_path],
        [checkpoint_path],
        job,
        ks=[k],
        settings=[settings],
        log=log,
        compile_step=compile_step,
    )


def train_group_and_save(
    model_paths: list[str | os.PathLike],
    checkpoint_paths: list[str | os.PathLike],
    job: TrainingJob,
    *,
    ks: list[int],
    settings: list[Mapping[str, Any]],
    log: logging.Logger | None = None,
    compile_step: bool = False,
) -> None:
    """Train and save models of several k as `train_and_save` does (more than one: `train_many`)."""
    log = log or logging.getLogger(__name__)
    training = job.training_data()
    encoding = training_encoding(job.encoding, job.dataset, training.images)
    seeds = [
        derive_seed(job.base_seed, "train", job.dataset, job.encoding, job.arch, k) for k in ks
    ]
    train_settings = [
        TrainSettings(**s, seed=seed) for s, seed in zip(settings, seeds, strict=True)
    ]
    models = []
    for k, seed, s in zip(ks, seeds, train_settings, strict=True):
        torch.manual_seed(seed)
        models.append(build_model(job.arch, encoding.out_channels, training.num_classes))
        log.info("k=%d encoding=%s arch=%s settings=%s", k, job.encoding, job.arch, s)
    with job.grant.acquire(log) as device:
        if len(models) == 1:
            results = [
                train(
                    models[0],
                    encoding,
                    ks[0],
                    training.images,
                    training.labels,
                    train_settings[0],
                    checkpoint_paths[0],
                    device,
                    log,
                    discard_mismatched=True,
                    compile_step=compile_step,
                )
            ]
        else:
            results = train_many(
                models,
                encoding,
                ks,
                training.images,
                training.labels,
                train_settings,
                checkpoint_paths,
                device,
                log,
                discard_mismatched=True,
                compile_step=compile_step,
            )
    for path, model, k, seed, s, result in zip(
        model_paths, models, ks, seeds, settings, results, strict=True
    ):
        trained = {"seed": seed, "training": dict(s), "train_images": training.count}
        trained["history"] = result["history"]
        meta = saved_meta(job, encoding, training.num_classes, {"k": k}, trained, device)
        save_model(path, model, meta)
