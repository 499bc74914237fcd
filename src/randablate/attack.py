"""The Pointwise attack (Schott et al. 2019, Foolbox 3.3.4) on the smoothed classifier.

As in the paper (Table 2): every query classifies the image afresh with `n_query` random
ablations and returns the vote counts; an input is adversarial when the smoothed classifier
misclassifies it or abstains (binomial test of the top two counts at alpha, as in prediction).
Each image is attacked from several salt-and-pepper starting points; its attack magnitude is the
smallest L0 distance (in pixels) over the starts. Images the smoothed classifier already gets
wrong (or abstains on) have magnitude 0; images no start breaks have magnitude infinity.

For k = d (no pixel ablated) every ablation is the whole image, so all n votes are the base
classifier's single vote: `SmoothedOracle` evaluates the image once and reports n votes for that
class, which is identical to counting n ablations and 1/n of the cost. Attacking that "smoothed"
classifier is attacking the plain CNN.

Randomness: each (image, start) has its own seed from `derive_seed(seed, "attack", index, start)`.
It seeds torch's global RNG (Foolbox's salt-and-pepper noise), numpy's global RNG (Foolbox's pixel
order) and the generator of the start's ablations; both global states are restored afterwards.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import certificates
from .failpoints import failpoint
from .files import atomic_path, load_checkpoint_npz
from .seeding import derive_seed, generator
from .smoothing import Smoothed

# Foolbox imports GitPython (for its model zoo), which fails at import without a git executable
# unless told to stay quiet; the attack never uses git.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import eagerpy as ep
from foolbox.attacks import PointwiseAttack, SaltAndPepperNoiseAttack
from foolbox.criteria import Criterion
from foolbox.models import Model
from foolbox.types import Bounds

CLEAN, BROKEN, UNBROKEN = "clean", "broken", "unbroken"
STATUSES = (CLEAN, BROKEN, UNBROKEN)


@dataclass(frozen=True)
class AttackSettings:
    """How each image is attacked (the config's `attack` section, less the pipeline keys)."""

    n_query: int = 10_000
    alpha: float = 0.05
    starts: int = 10
    init_steps: int = 100
    init_tries: int = 3
    l2_binary_search: bool = False
    max_queries: int | None = 20_000

    def __post_init__(self) -> None:
        if min(self.n_query, self.starts, self.init_steps, self.init_tries) < 1:
            raise ValueError(f"n_query, starts, init_steps and init_tries must be >= 1: {self}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")
        if self.max_queries is not None and self.max_queries < 1:
            raise ValueError(f"max_queries must be >= 1 or None, got {self.max_queries}")


def is_adversarial_counts(counts: np.ndarray, labels: np.ndarray, alpha: float) -> np.ndarray:
    """Per row: True where the prediction from `counts` is not the label (wrong or abstained).

    A row without votes (a query refused once the query budget is spent) is not adversarial.
    """
    counts = np.asarray(counts, dtype=np.int64)
    prediction = certificates.predict_from_counts(counts, alpha)
    return (prediction != np.asarray(labels)) & (counts.sum(axis=1) > 0)


def l0_pixels(x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
    """Number of pixels (positions, any channel) where x_adv differs from x; shape (N,)."""
    if x.shape != x_adv.shape or x.ndim != 4:
        raise ValueError(
            f"need two (N, C, H, W) tensors of one shape, got {x.shape}, {x_adv.shape}"
        )
    return (x != x_adv).any(dim=1).flatten(1).sum(dim=1)


class SmoothedOracle(Model):
    """Foolbox model of the smoothed classifier: each call returns fresh vote counts (float)."""

    data_format = "channels_first"

    def __init__(
        self,
        smoothed: Smoothed,
        n: int,
        gen: torch.Generator | None = None,
        max_queries: int | None = None,
    ) -> None:
        self.smoothed = smoothed
        self.n = int(n)
        self.generator = gen
        self.max_queries = max_queries
        self.queries = 0
        self.refused = 0

    @property
    def bounds(self) -> Bounds:
        """Pixel values lie in [0, 1]."""
        return Bounds(0.0, 1.0)

    def vote_counts(self, x: torch.Tensor) -> np.ndarray:
        """Count n fresh votes per image of x (N, C, H, W); k = d counts the one vote n times."""
        d = x.shape[-2] * x.shape[-1]
        if self.smoothed.k >= d:
            return self.smoothed.counts(x, 1, self.generator).numpy() * self.n
        return self.smoothed.counts(x, self.n, self.generator).numpy()

    def __call__(self, inputs: Any) -> Any:
        """Return vote counts (N, classes) for a batch; no votes once the query budget is spent."""
        x, restore_type = ep.astensor_(inputs)
        raw = x.raw
        batch = raw.shape[0]
        if self.max_queries is not None and self.queries + batch > self.max_queries:
            self.refused += batch
            counts = np.zeros((batch, self.smoothed.num_classes), dtype=np.int64)
        else:
            self.queries += batch
            counts = self.vote_counts(raw.detach())
        return restore_type(ep.astensor(torch.from_numpy(counts.astype(np.float32)).to(raw.device)))


class SmoothedMisclassification(Criterion):
    """Foolbox criterion: adversarial when the smoothed classifier misclassifies or abstains."""

    def __init__(self, labels: torch.Tensor, alpha: float) -> None:
        self.labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        self.alpha = float(alpha)

    def __repr__(self) -> str:
        return f"SmoothedMisclassification(labels={self.labels.tolist()}, alpha={self.alpha})"

    def __call__(self, perturbed: Any, outputs: Any) -> Any:
        """Boolean tensor (N,): which perturbed inputs are adversarial, from their vote counts."""
        outputs_, restore_type = ep.astensor_(outputs)
        counts = np.rint(outputs_.numpy()).astype(np.int64)
        adversarial = is_adversarial_counts(counts, self.labels, self.alpha)
        return restore_type(ep.from_numpy(outputs_, adversarial))


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


@dataclass
class ImageResult:
    """The attack on one image: the best start's adversarial image and what the oracle said."""

    index: int
    label: int
    status: str
    l0: float
    best_start: int
    clean_counts: np.ndarray
    clean_prediction: int
    adv_image: torch.Tensor
    adv_counts: np.ndarray
    adv_prediction: int
    start_l0: np.ndarray
    start_queries: np.ndarray
    queries: int
    seconds: float
    starts: list[StartResult] = field(default_factory=list, repr=False)


class _SeededGlobals:
    """Seed torch's CPU and numpy's global RNGs for one start; restore both afterwards."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __enter__(self) -> None:
        self.torch_state = torch.default_generator.get_state()
        self.numpy_state = np.random.get_state()
        torch.default_generator.manual_seed(self.seed)
        np.random.seed(self.seed % 2**32)

    def __exit__(self, *exc: object) -> None:
        torch.default_generator.set_state(self.torch_state)
        np.random.set_state(self.numpy_state)


def attack_start(
    smoothed: Smoothed,
    x: torch.Tensor,
    label: int,
    settings: AttackSettings,
    seed: int,
    start: int = 0,
) -> StartResult:
    """Run one start: salt-and-pepper starting point, then Foolbox's PointwiseAttack.run.

    x is one image (1, C, H, W) on the CPU. Foolbox's salt-and-pepper attack returns the least
    noise it found adversarial, which the randomized classifier may not call adversarial again:
    a starting point is kept only if a fresh (filter) query and PointwiseAttack's own entry check
    both call it adversarial; else a new one is drawn, up to `init_tries` times. A start with no
    kept starting point finds nothing: l0 = inf and the clean image is returned.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"attack_start takes one image (1, C, H, W), got {tuple(x.shape)}")
    x = x.detach().to("cpu", torch.float32)
    gen = generator(derive_seed(seed, "queries"), smoothed.device)
    oracle = SmoothedOracle(smoothed, settings.n_query, gen, settings.max_queries)
    criterion = SmoothedMisclassification(torch.tensor([label]), settings.alpha)
    result = None
    with _SeededGlobals(seed):
        init = SaltAndPepperNoiseAttack(steps=settings.init_steps)
        for _ in range(settings.init_tries):
            start_point = init.run(oracle, x, criterion)
            # Filter: Foolbox's run asserts that its starting point is adversarial.
            if bool(torch.any(start_point != x)) and bool(
                criterion(start_point, oracle(start_point)).all()
            ):
                result = _pointwise(settings, oracle, x, criterion, start_point)
            if result is not None or oracle.refused > 0:
                break
    spent = oracle.refused > 0
    if result is None:
        return StartResult(start, seed, False, float("inf"), x, oracle.queries, spent)
    l0 = float(l0_pixels(x, result).item())
    return StartResult(start, seed, True, l0, result, oracle.queries, spent)


def _pointwise(
    settings: AttackSettings,
    oracle: SmoothedOracle,
    x: torch.Tensor,
    criterion: SmoothedMisclassification,
    start_point: torch.Tensor,
) -> torch.Tensor | None:
    """Foolbox's PointwiseAttack from `start_point`; None when its entry check rejects the start.

    The entry check re-queries the starting point with fresh ablations; near the boundary the
    smoothed classifier may disagree with the filter query, and then this start finds nothing.
    """
    attack = PointwiseAttack(l2_binary_search=settings.l2_binary_search)
    queries_before = oracle.queries + oracle.refused
    try:
        return attack.run(oracle, x, criterion, starting_points=start_point)
    except AssertionError:
        if oracle.queries + oracle.refused - queries_before == 1:
            return None
        raise


def attack_image(
    smoothed: Smoothed,
    x: torch.Tensor,
    label: int,
    index: int,
    settings: AttackSettings,
    seed: int,
    log: logging.Logger | None = None,
) -> ImageResult:
    """Attack one image (1, C, H, W) from `settings.starts` starts; keep the smallest L0."""
    log = log or logging.getLogger(__name__)
    started = time.monotonic()
    x = x.detach().to("cpu", torch.float32)
    clean_oracle = SmoothedOracle(
        smoothed, settings.n_query, generator(derive_seed(seed, "attack", index, "clean"))
    )
    clean_counts = clean_oracle.vote_counts(x)[0]
    clean_prediction = int(certificates.predict_from_counts(clean_counts[None], settings.alpha)[0])
    start_l0 = np.full(settings.starts, np.nan)
    start_queries = np.zeros(settings.starts, dtype=np.int64)
    results: list[StartResult] = []
    if clean_prediction != label:
        status, l0, best, adv = CLEAN, 0.0, -1, x
    else:
        for start in range(settings.starts):
            start_seed = derive_seed(seed, "attack", index, start)
            result = attack_start(smoothed, x, label, settings, start_seed, start)
            results.append(result)
            start_l0[start] = result.l0
            start_queries[start] = result.queries
            log.info(
                "image %d start %d/%d: L0 %s (%d queries%s)",
                index,
                start + 1,
                settings.starts,
                f"{result.l0:g}" if result.found else "none",
                result.queries,
                ", budget spent" if result.budget_spent else "",
            )
        found = [r for r in results if r.found]
        if found:
            best_result = min(found, key=lambda r: (r.l0, r.start))
            status, l0, best, adv = BROKEN, best_result.l0, best_result.start, best_result.image
        else:
            status, l0, best, adv = UNBROKEN, float("inf"), -1, x
    if status == CLEAN:
        adv_counts = clean_counts
    else:
        verify = SmoothedOracle(
            smoothed, settings.n_query, generator(derive_seed(seed, "attack", index, "verify"))
        )
        adv_counts = verify.vote_counts(adv)[0]
    adv_prediction = int(certificates.predict_from_counts(adv_counts[None], settings.alpha)[0])
    return ImageResult(
        index=int(index),
        label=int(label),
        status=status,
        l0=float(l0),
        best_start=int(best),
        clean_counts=clean_counts.astype(np.int64),
        clean_prediction=clean_prediction,
        adv_image=adv[0].clone(),
        adv_counts=np.asarray(adv_counts, dtype=np.int64),
        adv_prediction=adv_prediction,
        start_l0=start_l0,
        start_queries=start_queries,
        queries=int(start_queries.sum()) + 1 + int(status != CLEAN),
        seconds=time.monotonic() - started,
        starts=results,
    )


PER_IMAGE = (
    "index",
    "label",
    "status",
    "l0",
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
    "seconds",
)


def _header(smoothed: Smoothed, settings: AttackSettings, seed: int, d: int) -> dict:
    """Scalars that identify a shard's job, stored in its file and checked on resume."""
    header = {name: np.asarray(value) for name, value in asdict(settings).items()}
    header["max_queries"] = np.int64(-1 if settings.max_queries is None else settings.max_queries)
    header.update(k=np.int64(smoothed.k), d=np.int64(d), seed=np.int64(seed))
    header["precision"] = np.asarray(smoothed.precision)
    return header


def attack_images(
    smoothed: Smoothed,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: Sequence[int] | np.ndarray,
    settings: AttackSettings,
    seed: int,
    out_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike | None = None,
    log: logging.Logger | None = None,
) -> None:
    """Attack every image and write one .npz; resumable image by image from `checkpoint_path`.

    The file holds, per image (in `PER_IMAGE` order): index, label, status (clean / broken /
    unbroken), l0 (0, pixels, or inf), best_start, the clean and adversarial vote counts and
    predictions (−1: abstain), both images, each start's L0 (inf: nothing found; nan: not run)
    and queries, and seconds; plus the job's settings as scalars.
    """
    log = log or logging.getLogger(__name__)
    indices = np.asarray(indices, dtype=np.int64)
    labels_np = np.asarray(labels, dtype=np.int64)
    if not len(images) == len(labels_np) == len(indices) or len(indices) == 0:
        raise ValueError("need as many images, labels and indices, at least one")
    d = images.shape[-2] * images.shape[-1]
    header = _header(smoothed, settings, seed, d)
    rows: dict[str, list] = {name: [] for name in PER_IMAGE}
    checkpoint = Path(checkpoint_path) if checkpoint_path else None
    if checkpoint is not None:
        partial = load_checkpoint_npz(checkpoint, {**header, "all_index": indices})
        if partial is not None:
            rows = {name: list(partial[name]) for name in PER_IMAGE}
            log.info(
                "resuming from %s: %d of %d images already attacked",
                checkpoint,
                len(rows["index"]),
                len(indices),
            )
    started = time.monotonic()
    first = len(rows["index"])
    for position in range(first, len(indices)):
        x = images[position : position + 1]
        result = attack_image(
            smoothed, x, int(labels_np[position]), int(indices[position]), settings, seed, log
        )
        for name in PER_IMAGE:
            value = x[0] if name == "clean_image" else getattr(result, name)
            rows[name].append(value.numpy() if isinstance(value, torch.Tensor) else value)
        done = position + 1
        rate = (done - first) / max(time.monotonic() - started, 1e-9)
        log.info(
            "attacked %d/%d images: index %d %s, L0 %g, %d queries, %.1f s (about %.0f s left)",
            done,
            len(indices),
            result.index,
            result.status,
            result.l0,
            result.queries,
            result.seconds,
            (len(indices) - done) / max(rate, 1e-9),
        )
        if checkpoint is not None and done < len(indices):
            with atomic_path(checkpoint) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, all_index=indices, **header, **_stack(rows))
            failpoint("attack-image", done - first)
    with atomic_path(out_path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **header, **_stack(rows))
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()


def _stack(rows: dict[str, list]) -> dict[str, np.ndarray]:
    """Per-image lists as arrays, one row per image."""
    out = {name: np.stack([np.asarray(v) for v in values]) for name, values in rows.items()}
    out["status"] = out["status"].astype("<U8")
    return out
