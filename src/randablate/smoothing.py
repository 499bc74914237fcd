"""The smoothed classifier g: votes of the base classifier f over random ablations.

`Smoothed` follows Cohen et al.'s procedures as the paper adopts them: `predict` (top class, or
abstain when the top two counts are not significantly different) and `certify` (n0 samples
choose the class, n fresh samples bound its probability). `count_votes` runs those samplers over
a dataset with one seed per image, resumably, for the pipeline.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import certificates
from .ablation import keep_masks_from_streams, kept_pixels_from_streams
from .certification import SamplingScheme, certify_counts, scheme_record
from .devices import DeviceGrant, default_device
from .encoding import Encoding, get_encoding
from .files import ResumableNpz, discard_if_older
from .fused import CellCNN, cell_order, cell_rows, cells_fit, fuse_for_cpu, fused_inference_helps
from .models import load_model
from .names import check_precision
from .seeding import derive_seed
from .streams import SeedsArg, Streams, as_streams

# Samples an uncompiled forward pass on the CPU, per thread: the MNIST CNN's activations of 128
# samples a core stay in its cache, which made bf16 votes 1.6x faster a sample than passes of
# 1,000 (benchmarks/certify_throughput.py, "1 pass a batch").
CPU_FORWARD_BATCH = 128
# Forward passes' worth of keep-sets drawn at a time on the CPU (when batch_size is larger):
# Floyd's steps over 10,000 rows leave the cache and took twice as long a sample as over 1,000.
CPU_DRAW_PASSES = 4


def cpu_forward_batch() -> int:
    """Samples a forward pass on the CPU: CPU_FORWARD_BATCH per torch thread."""
    return CPU_FORWARD_BATCH * max(1, torch.get_num_threads())


_log = logging.getLogger(__name__)


def _base_on(
    base: nn.Module, device: torch.device, dtype: torch.dtype, fuse: bool = True
) -> nn.Module:
    """`base` in eval mode on `device` in `dtype`; a copy only where a conversion is needed.

    The copy is also laid out channels-last (faster convolutions on the CPU and on tensor
    cores); a model that already sits on the GPU in the right dtype is used as it is, not
    duplicated in GPU memory. With `fuse`, bf16 on a CPU with AMX runs each layer with its ReLU
    in one oneDNN call where the model allows (`fused.fuse_for_cpu`); fp32 is never fused, so
    its votes stay those of the model as written.
    """
    params = list(base.parameters()) + list(base.buffers())
    in_place = device.type != "cpu" and all(
        p.device == device and (p.dtype == dtype or not p.is_floating_point()) for p in params
    )
    if in_place:
        return base.eval()
    model = copy.deepcopy(base).eval().to(device=device, dtype=dtype)
    model = model.to(memory_format=torch.channels_last)
    if fuse and device.type == "cpu" and dtype == torch.bfloat16 and fused_inference_helps():
        return fuse_for_cpu(model, cpu_forward_batch()) or model
    return model


def _channels_last(model: nn.Module) -> bool:
    """Whether the model's 4-D weights are laid out channels-last (then so are its inputs)."""
    return any(
        p.dim() == 4
        and p.is_contiguous(memory_format=torch.channels_last)
        and not p.is_contiguous()
        for p in model.parameters()
    )


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
        compile: bool = False,
    ) -> None:
        check_precision(precision)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.k = int(k)
        self.encoding = encoding
        self.num_classes = int(num_classes)
        self.batch_size = int(batch_size)
        self.precision = precision
        self.dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.device = torch.device(device) if device is not None else default_device()
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.model = _base_on(base, self.device, self.dtype, fuse=not compile)
        self.channels_last = _channels_last(self.model)
        self._null_buffer: torch.Tensor | None = None  # see _null_images
        # On the CPU an uncompiled model runs in passes that fit in cache, and keep-sets are
        # drawn a few passes at a time; a compiled one pays a per-call overhead and fuses the
        # ReLUs, so it takes whole batches.
        self.forward_batch = self.draw_batch = self.batch_size
        if self.device.type == "cpu" and not compile:
            self.forward_batch = min(self.batch_size, cpu_forward_batch())
            self.draw_batch = min(self.batch_size, CPU_DRAW_PASSES * self.forward_batch)
        # compile: torch.compile with weights frozen (the ReLUs and copies around the
        # convolutions and matrix products become generated kernels); compiled once per batch
        # shape, so the last batch is padded to forward_batch.
        self.compiled = (
            torch.compile(self.model, options={"freezing": True}, dynamic=False)
            if compile
            else None
        )

    def check_images(self, x: torch.Tensor) -> None:
        """Raise ValueError unless x is a batch (B, C, H, W) of floating images in [0, 1]."""
        expected = (
            f"a batch of images (B, {self.encoding.channels}, H, W), floating point in [0, 1]"
        )
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected {expected}, got {type(x).__name__}")
        if x.ndim != 4:
            hint = "; for one image pass x.unsqueeze(0)" if x.ndim == 3 else ""
            raise ValueError(f"expected {expected}, got shape {tuple(x.shape)}{hint}")
        if x.shape[1] != self.encoding.channels:
            raise ValueError(
                f"expected {expected}: the {self.encoding.name} encoding was built for "
                f"{self.encoding.channels} channels, got {x.shape[1]}"
            )
        if not x.is_floating_point():
            raise ValueError(
                f"expected {expected}, got dtype {x.dtype} (for 0-255 images use x / 255)"
            )
        if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
            raise ValueError(
                f"expected {expected}, got values in [{float(x.min()):g}, {float(x.max()):g}]"
            )

    def _coded(self, x: torch.Tensor) -> torch.Tensor:
        """Images coded once on the device, in the model's dtype and layout."""
        coded = self.encoding.code(x.to(self.device, self.dtype))
        if self.channels_last:
            coded = coded.contiguous(memory_format=torch.channels_last)
        return coded

    def _count(self, x: torch.Tensor, n: int, streams: Streams) -> torch.Tensor:
        """Votes (B, classes) on the device over samples starts .. starts + n - 1 of each stream.

        The (image, sample) pairs are cut into batches of `draw_batch` samples that may span
        images; each batch's keep-sets are drawn on the device from the seeds, and its votes are
        added to counts that stay there: nothing returns to the host until the caller asks.
        """
        batch, _, h, w = x.shape
        d = h * w
        if not 0 < self.k <= d:
            raise ValueError(f"k={self.k} must be in 1..d={d}")
        seeds = streams.seeds.to(self.device)
        starts = streams.starts.to(self.device)
        coded = self._coded(x)
        flat_counts = torch.zeros(batch * self.num_classes, dtype=torch.long, device=self.device)
        for start in range(0, batch * n, self.draw_batch):
            stop = min(start + self.draw_batch, batch * n)
            flat = torch.arange(start, stop, device=self.device)
            image = flat // n
            sample = starts[image] + flat - image * n
            if 2 * self.k <= d:  # write the k kept pixels into a NULL image: no mask
                kept = kept_pixels_from_streams(seeds[image], sample, d, self.k)
                logits = self._forward_kept(coded, image, kept)
            else:
                keep = keep_masks_from_streams(seeds[image], sample, d, self.k)
                logits = self._forward(self.encoding.ablate_coded(coded[image], keep))
            votes = image * self.num_classes + logits.argmax(dim=1)
            flat_counts.scatter_add_(0, votes, torch.ones_like(votes))
        return flat_counts.view(batch, self.num_classes)

    @torch.inference_mode()
    def counts(self, x: torch.Tensor, n: int, seeds: SeedsArg = None) -> torch.Tensor:
        """Count, per image of x (B, C, H, W) in [0, 1], the base votes over n ablations.

        `seeds` gives each image its own keep-set stream: one integer per image (samples 0 .. n-1
        of its stream), a `Streams` (its next n samples; it moves past them) or None (fresh
        random seeds). An image's counts depend on its stream only, not on the batching.
        """
        self.check_images(x)
        streams = as_streams(seeds, len(x)).take(n)
        return self._count(x, n, streams).cpu()

    @torch.inference_mode()
    def classify_whole(self, x: torch.Tensor) -> torch.Tensor:
        """The base classifier's class for each whole image (none ablated) of x (B, C, H, W)."""
        # At k = d, counts(x, 1) feeds the model these very tensors (an all-kept ablation is the
        # identity, in value and layout) in the same batches: its votes are these classes.
        self.check_images(x)
        coded = self._coded(x)
        classes = [
            self._forward(coded[start : start + self.batch_size]).argmax(dim=1)
            for start in range(0, len(coded), self.batch_size)
        ]
        return torch.cat(classes).cpu()

    def _forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The base classifier's logits for coded, ablated samples, `forward_batch` at a time."""
        if len(inputs) <= self.forward_batch:
            return self._forward_one(inputs)
        return torch.cat(
            [
                self._forward_one(inputs[start : start + self.forward_batch])
                for start in range(0, len(inputs), self.forward_batch)
            ]
        )

    def _forward_kept(
        self, coded: torch.Tensor, image: torch.Tensor, kept: torch.Tensor
    ) -> torch.Tensor:
        """The logits of the samples that keep pixels kept[b] (B, k) of coded[image[b]].

        The samples are written `forward_batch` at a time into one reused buffer of NULL images
        (`Encoding.ablated_in`): k pixels written and k put back a sample, instead of a fresh
        NULL fill of all d. A `fused.CellCNN` gets them written in its cell order.
        """
        _, _, h, w = coded.shape
        cells = isinstance(self.model, CellCNN) and cells_fit(h, w)
        if cells:  # the images' pixels and the kept ones renumbered in cell order
            coded = cell_rows(coded).view(len(coded), h, w, -1).permute(0, 3, 1, 2)
            kept = cell_order(h, w).to(self.device)[kept]
        size = min(len(kept), self.forward_batch)
        null_images = self._null_images(size, h, w)
        logits = []
        for start in range(0, len(kept), size):
            part = slice(start, start + size)
            rows, buffer = kept[part], null_images[: len(kept[part])]
            with self.encoding.ablated_in(buffer, coded, image[part], rows) as x:
                logits.append(
                    self.model.forward_cells(buffer, h, w) if cells else self._forward_one(x)
                )
        return logits[0] if len(logits) == 1 else torch.cat(logits)

    def _null_images(self, size: int, h: int, w: int) -> torch.Tensor:
        """The buffer of at least `size` NULL images (h, w) that `_forward_kept` writes into.

        It only grows: a call's smaller last batch uses its first rows, instead of a new buffer
        (and a NULL fill) for it and another for the next call's full batches.
        """
        buffer = self._null_buffer
        if buffer is None or len(buffer) < size or buffer.shape[1] != h * w:
            buffer = self.encoding.null_images(size, h, w, self.device, self.dtype)
            self._null_buffer = buffer
        return buffer

    def _forward_one(self, inputs: torch.Tensor) -> torch.Tensor:
        """The logits of one forward pass (at most `forward_batch` samples)."""
        if self.compiled is None:
            return self.model(inputs)
        short = self.forward_batch - len(inputs)
        if short > 0:  # one compiled shape: pad the last batch
            inputs = torch.cat([inputs, inputs.new_zeros((short, *inputs.shape[1:]))])
            if self.channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.compiled(inputs)[: self.forward_batch - short]

    def predict(self, x: torch.Tensor, n: int, alpha: float, seeds: SeedsArg = None) -> np.ndarray:
        """Top class per image, or -1 (abstain) where the top two counts tie at level alpha."""
        return certificates.predict_from_counts(self.counts(x, n, seeds).numpy(), alpha)

    @torch.inference_mode()
    def certify(
        self,
        x: torch.Tensor,
        n0: int,
        n: int,
        alpha: float,
        seeds: SeedsArg | Mapping[str, SeedsArg] = None,
    ) -> Certificate:
        """Choose each image's class with n0 samples and bound its probability with n fresh ones.

        `seeds` as in `counts`: each image's first n0 samples choose, its next n bound; or a
        mapping {"select": ..., "bound": ...} giving each stage streams of its own (as the
        pipeline's `count_votes` draws them, `stage_seeds`). The certificate comes from the
        counts by `certification.certify_counts`, as the pipeline's certificate table does.
        """
        scheme = SamplingScheme({"select": n0, "bound": n})
        counts = self.count_stages(x, scheme.stages, seeds)
        d = x.shape[-2] * x.shape[-1]
        rows = certify_counts(counts, scheme, alpha, d, self.k)
        return Certificate(
            rows["guess"].to_numpy(),
            rows["p_lower"].to_numpy(),
            rows["radius"].to_numpy(),
            counts["select"],
            counts["bound"],
        )

    @torch.inference_mode()
    def count_stages(
        self,
        x: torch.Tensor,
        stages: Mapping[str, int],
        seeds: SeedsArg | Mapping[str, SeedsArg] = None,
    ) -> dict[str, np.ndarray]:
        """Votes per stage ({stage: (B, classes)}) over `stages` (name -> samples) of each image.

        `seeds` is either one stream per image (as in `counts`), from which the stages draw
        consecutive samples in order, or a mapping from each stage to its own streams. The
        images are counted in groups, each logged to the "randablate.smoothing" logger; the
        counts stay on the device until all groups are queued.
        """
        self.check_images(x)
        if isinstance(seeds, Mapping):
            missing = [stage for stage in stages if stage not in seeds]
            if missing:
                raise ValueError(f"no seeds for the stages {missing} (got {sorted(seeds)})")
            own = {stage: as_streams(seeds[stage], len(x)) for stage in stages}
            shared = None
        else:
            shared = as_streams(seeds, len(x))
        group = max(1, 20 * self.batch_size // max(1, sum(stages.values())))
        parts: dict[str, list[torch.Tensor]] = {stage: [] for stage in stages}
        started = time.monotonic()
        for start in range(0, len(x), group):
            stop = min(start + group, len(x))
            part = shared.select(slice(start, stop)) if shared is not None else None
            for stage, n in stages.items():
                streams = part if part is not None else own[stage].select(slice(start, stop))
                parts[stage].append(self._count(x[start:stop], n, streams.take(n)))
            if len(x) > group:
                _log.info(
                    "certified %d/%d images (%.1f s)", stop, len(x), time.monotonic() - started
                )
        if shared is not None:
            shared.advance(sum(stages.values()))
        else:
            for stage, n in stages.items():
                own[stage].advance(n)
        return {stage: torch.cat(counted).cpu().numpy() for stage, counted in parts.items()}

    def certify_radius(
        self,
        x: torch.Tensor,
        radius: int,
        alpha: float,
        n0: int,
        stages: Sequence[int],
        seeds: SeedsArg = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decide per image whether g is certified at L0 radius `radius`, sampling in stages.

        n0 samples choose the class; then each stage draws its own fresh samples and tests at
        level alpha / len(stages) (Horváth et al., ICLR 2022): an image stops at the first stage
        whose Clopper–Pearson lower bound p̲ gives p̲ − Δ(radius) > 1/2 (certified) or whose
        upper bound shows that no p can (not certified). The wrong-certification probability is
        at most alpha by the union bound. Returns (certified, guess, samples used) per image.
        """
        if not stages or any(int(n) < 1 for n in stages) or n0 < 1:
            raise ValueError(f"need n0 >= 1 and stages of >= 1 samples, got {n0}, {stages}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        d = x.shape[-2] * x.shape[-1]
        if radius < 0:
            raise ValueError(f"radius must be >= 0, got {radius}")
        batch = x.shape[0]
        streams = as_streams(seeds, batch)
        guess = np.argmax(self.counts(x, n0, streams).numpy(), axis=1).astype(np.int64)
        used = np.full(batch, n0, dtype=np.int64)
        certified = np.zeros(batch, dtype=bool)
        active = np.arange(batch)
        level = alpha / len(stages)
        for n in stages:
            if active.size == 0:
                break
            part = streams.select(active)
            counts = self.counts(x[torch.from_numpy(active)], int(n), part).numpy()
            streams.advance(int(n), active)
            hits = counts[np.arange(active.size), guess[active]]
            used[active] += int(n)
            lower = certificates.lower_confidence_bound(hits, int(n), level)
            upper = certificates.upper_confidence_bound(hits, int(n), level)
            win = np.asarray(certificates.certified_radius(lower, d, self.k)) >= radius
            lose = np.asarray(certificates.certified_radius(upper, d, self.k)) < radius
            certified[active[win]] = True
            active = active[~(win | lose)]
        return certified, guess, used


def load_smoothed(
    model_path: str | os.PathLike,
    k: int | None,
    batch_size: int = 1000,
    precision: str = "fp32",
    device: str | torch.device | None = None,
    compile: bool = False,
) -> tuple[Smoothed, dict]:
    """The smoothed classifier of a model saved by `models.save_model`, checked to use this k.

    `k` None takes the k the model was trained with.
    """
    model, meta = load_model(model_path)
    k = meta["k"] if k is None else k
    if meta["k"] != k:
        raise ValueError(f"{model_path} was trained with k={meta['k']}, not {k}")
    encoding = get_encoding(
        meta["encoding"],
        channels=meta["channels"],
        mean=meta.get("mean"),
        normalize=meta.get("normalize"),
    )
    smoothed = Smoothed(
        model, k, encoding, meta["num_classes"], batch_size, precision, device, compile
    )
    return smoothed, meta


@dataclass(frozen=True)
class GrantedSmoothed:
    """A pipeline job's smoothed classifier: its model file and k, how it runs, and its device."""

    model_path: str | os.PathLike
    k: int
    batch_size: int
    precision: str
    grant: DeviceGrant
    compile: bool = False

    def discard_stale(self, checkpoint: str | os.PathLike, log: logging.Logger) -> None:
        """Delete a job's checkpoint if it predates the model file (`files.discard_if_older`)."""
        if discard_if_older(checkpoint, self.model_path):
            log.info("removed %s: it predates the model", checkpoint)

    @contextlib.contextmanager
    def open(self, log: logging.Logger | None = None) -> Iterator[tuple[Smoothed, dict]]:
        """`load_smoothed` on the device `grant` grants, the device held until the block exits."""
        with self.grant.acquire(log) as device:
            yield load_smoothed(
                self.model_path,
                self.k,
                batch_size=self.batch_size,
                precision=self.precision,
                device=device,
                compile=self.compile,
            )


def count_votes(
    smoothed: Smoothed,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: Sequence[int] | np.ndarray,
    stages: SamplingScheme | Mapping[str, int],
    seed: int,
    out_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike | None = None,
    log: logging.Logger | None = None,
    checkpoint_seconds: float = 60.0,
) -> None:
    """Count votes for every image and sampling stage; resumable, one seed per (stage, image).

    `stages` is the sampling scheme (a plain mapping stage -> samples: a scheme without a
    prediction stage). Writes an .npz with index, label, k, d, seed, n_<stage>, counts_<stage>
    (N, classes) and the scheme's record (`certification.scheme_record`), from which the
    certificate job reads which stage chooses, bounds and predicts.
    """
    log = log or logging.getLogger(__name__)
    scheme = stages if isinstance(stages, SamplingScheme) else SamplingScheme(stages)
    stages = scheme.stages
    record = scheme_record(scheme)  # written after the counts: older checkpoints still resume
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
    result = ResumableNpz(out_path, checkpoint_path, header, "votes-group")
    done = 0
    partial = result.resume()
    if partial is not None:
        done = int(partial["done"])
        counts = {stage: partial[f"counts_{stage}"] for stage in stages}
        log.info(
            "resuming from %s: %d of %d images already counted", result.checkpoint, done, total
        )
    group = max(1, smoothed.batch_size // max(1, min(stages.values())))
    started = time.monotonic()
    last_save = started
    first = done
    while done < total:
        stop = min(done + group, total)
        x = images[done:stop]
        for stage, n in stages.items():
            seeds = stage_seeds(seed, stage, indices[done:stop])
            counts[stage][done:stop] = smoothed.counts(x, n, seeds).numpy()
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
        if now - last_save >= checkpoint_seconds or done == total:
            result.save({**_prefixed(counts), **record}, done=np.int64(done))
            last_save = now
    result.finish({**_prefixed(counts), **record})


def stage_seeds(seed: int, stage: str, indices: Sequence[int] | np.ndarray) -> list[int]:
    """The pipeline's keep-set streams of one vote stage: one seed per (stage, image index)."""
    return [derive_seed(seed, stage, int(i)) for i in indices]


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
        seeds = [derive_seed(seed, "base", i) for i in range(start, stop)]
        counts = smoothed.counts(images[start:stop], samples, seeds).numpy()
        correct += int(counts[np.arange(stop - start), labels_np[start:stop]].sum())
        log.info("measured %d/%d images", stop, len(images))
    return correct / (samples * len(images))
