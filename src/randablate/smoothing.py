"""The smoothed classifier g: votes of the base classifier f over random ablations.

`Smoothed` follows Cohen et al.'s procedures as the paper adopts them: `predict` (top class, or
abstain when the top two counts are not significantly different) and `certify` (n0 samples
choose the class, n fresh samples bound its probability). `count_votes` runs those samplers over
a dataset with one seed per image, resumably, for the pipeline.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import certificates
from .ablation import draw_uniforms, keep_masks_from_uniforms
from .encoding import Encoding, get_encoding
from .failpoints import failpoint
from .files import atomic_path, load_checkpoint_npz
from .models import load_model
from .seeding import derive_seed, generator

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}

GeneratorArg = torch.Generator | Sequence[torch.Generator] | None


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Certificate:
    """What `Smoothed.certify` returns for a batch of images."""

    guess: np.ndarray
    p_lower: np.ndarray
    radius: np.ndarray
    counts_select: np.ndarray
    counts_bound: np.ndarray


class Smoothed:
    """Smoothed classifier over a base classifier that sees k-of-d ablated images."""

    def __init__(
        self,
        base: nn.Module,
        k: int,
        encoding: Encoding,
        num_classes: int,
        batch_size: int = 1000,
        precision: str = "fp32",
        device: str | torch.device | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.k = int(k)
        self.encoding = encoding
        self.num_classes = int(num_classes)
        self.batch_size = int(batch_size)
        self.precision = precision
        self.dtype = PRECISIONS[precision]
        self.device = torch.device(device) if device is not None else default_device()
        model = copy.deepcopy(base).eval().to(device=self.device, dtype=self.dtype)
        if self.device.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
        self.model = model

    def _uniforms(self, batch: int, n: int, d: int, gen: GeneratorArg) -> torch.Tensor:
        """Uniforms for n keep-sets per image; one stream per image when given a generator each."""
        if gen is None or isinstance(gen, torch.Generator):
            return draw_uniforms(batch * n, d, self.k, gen)
        if len(gen) != batch:
            raise ValueError(f"got {len(gen)} generators for {batch} images")
        return torch.cat([draw_uniforms(n, d, self.k, g) for g in gen])

    @torch.inference_mode()
    def counts(self, x: torch.Tensor, n: int, generator: GeneratorArg = None) -> torch.Tensor:
        """Count, per image of x (B, C, H, W) in [0, 1], the base votes over n ablations."""
        batch, _, h, w = x.shape
        d = h * w
        if not 0 < self.k <= d:
            raise ValueError(f"k={self.k} must be in 1..d={d}")
        u = self._uniforms(batch, n, d, generator).to(self.device)
        coded = self.encoding.code(x.to(self.device, self.dtype))
        if self.device.type == "cpu":
            coded = coded.contiguous(memory_format=torch.channels_last)
        flat_counts = torch.zeros(batch * self.num_classes, dtype=torch.long, device=self.device)
        for start in range(0, batch * n, self.batch_size):
            stop = min(start + self.batch_size, batch * n)
            image = torch.arange(start, stop, device=self.device) // n
            keep = keep_masks_from_uniforms(u[start:stop], d, self.k)
            logits = self.model(self.encoding.ablate_coded(coded[image], keep))
            votes = image * self.num_classes + logits.argmax(dim=1)
            flat_counts += torch.bincount(votes, minlength=batch * self.num_classes)
        return flat_counts.view(batch, self.num_classes).cpu()

    def predict(
        self, x: torch.Tensor, n: int, alpha: float, generator: GeneratorArg = None
    ) -> np.ndarray:
        """Top class per image, or -1 (abstain) where the top two counts tie at level alpha."""
        return certificates.predict_from_counts(self.counts(x, n, generator).numpy(), alpha)

    def certify(
        self, x: torch.Tensor, n0: int, n: int, alpha: float, generator: GeneratorArg = None
    ) -> Certificate:
        """Choose each image's class with n0 samples and bound its probability with n fresh ones."""
        counts_select = self.counts(x, n0, generator).numpy()
        counts_bound = self.counts(x, n, generator).numpy()
        d = x.shape[-2] * x.shape[-1]
        guess, p_lower, radius = certificates.certify_from_counts(
            counts_select, counts_bound, alpha, d, self.k
        )
        return Certificate(guess, p_lower, radius, counts_select, counts_bound)


def load_smoothed(
    model_path: str | os.PathLike,
    k: int,
    batch_size: int = 1000,
    precision: str = "fp32",
    device: str | torch.device | None = None,
) -> tuple[Smoothed, dict]:
    """The smoothed classifier of a model saved by `models.save_model`, checked to use this k."""
    model, meta = load_model(model_path)
    if meta["k"] != k:
        raise ValueError(f"{model_path} was trained with k={meta['k']}, not {k}")
    encoding = get_encoding(
        meta["encoding"],
        channels=meta["channels"],
        mean=meta.get("mean"),
        normalize=meta.get("normalize"),
    )
    smoothed = Smoothed(
        model, k, encoding, meta["num_classes"], batch_size, precision, device=device
    )
    return smoothed, meta


def count_votes(
    smoothed: Smoothed,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: Sequence[int] | np.ndarray,
    stages: Mapping[str, int],
    seed: int,
    out_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike | None = None,
    log: logging.Logger | None = None,
    checkpoint_seconds: float = 60.0,
) -> None:
    """Count votes for every image and sampling stage; resumable, one seed per (stage, image).

    Writes an .npz with index, label, counts_<stage> (N, classes), n_<stage>, k, d, seed.
    """
    log = log or logging.getLogger(__name__)
    indices = np.asarray(indices, dtype=np.int64)
    labels_np = np.asarray(labels, dtype=np.int64)
    total = len(indices)
    d = images.shape[-2] * images.shape[-1]
    header = {
        "index": indices,
        "label": labels_np,
        "k": np.int64(smoothed.k),
        "d": np.int64(d),
        "seed": np.int64(seed),
        **{f"n_{stage}": np.int64(n) for stage, n in stages.items()},
    }
    counts = {s: np.full((total, smoothed.num_classes), -1, dtype=np.int64) for s in stages}
    done = 0
    checkpoint = Path(checkpoint_path) if checkpoint_path else None
    if checkpoint is not None:
        partial = load_checkpoint_npz(checkpoint, header)
        if partial is not None:
            done = int(partial["done"])
            for stage in stages:
                counts[stage] = partial[f"counts_{stage}"]
            log.info("resuming from %s: %d of %d images already counted", checkpoint, done, total)
    group = max(1, smoothed.batch_size // max(1, min(stages.values())))
    started = time.monotonic()
    last_save = started
    first = done
    saves = 0
    while done < total:
        stop = min(done + group, total)
        x = images[done:stop]
        for stage, n in stages.items():
            gens = [generator(derive_seed(seed, stage, int(i))) for i in indices[done:stop]]
            counts[stage][done:stop] = smoothed.counts(x, n, gens).numpy()
        done = stop
        now = time.monotonic()
        rate = (done - first) / max(now - started, 1e-9)
        log.info(
            "counted %d/%d images (%.2f images/s, about %.0f s left)",
            done,
            total,
            rate,
            (total - done) / max(rate, 1e-9),
        )
        if checkpoint is not None and (now - last_save >= checkpoint_seconds or done == total):
            with atomic_path(checkpoint) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, done=np.int64(done), **header, **_prefixed(counts))
            last_save = now
            saves += 1
            failpoint("votes-group", saves)
    with atomic_path(out_path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **header, **_prefixed(counts))
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()


def _prefixed(counts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"counts_{stage}": value for stage, value in counts.items()}


def base_accuracy(
    smoothed: Smoothed,
    images: torch.Tensor,
    labels: torch.Tensor,
    samples: int,
    seed: int,
    log: logging.Logger | None = None,
) -> float:
    """Accuracy of the base classifier on `samples` random ablations of each image."""
    log = log or logging.getLogger(__name__)
    labels_np = np.asarray(labels, dtype=np.int64)
    correct = 0
    group = max(1, smoothed.batch_size // samples)
    for start in range(0, len(images), group):
        stop = min(start + group, len(images))
        gens = [generator(derive_seed(seed, "base", i)) for i in range(start, stop)]
        counts = smoothed.counts(images[start:stop], samples, gens).numpy()
        correct += int(counts[np.arange(stop - start), labels_np[start:stop]].sum())
        log.info("measured %d/%d images", stop, len(images))
    return correct / (samples * len(images))
