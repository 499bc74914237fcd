"""The Pointwise attack (Schott et al. 2019, Foolbox 3.3.4) on the smoothed classifier: the driver.

As in the paper (Table 2): every query asks whether the smoothed classifier, classifying the image
afresh with `n_query` random ablations, still returns the label; an input is adversarial when the
smoothed classifier misclassifies it or abstains (binomial test of the top two counts at alpha,
as in prediction). Each image is attacked from `starts` starts; its attack magnitude is the
smallest L0 distance (in pixels) over the starts. Images the smoothed classifier already gets
wrong (or abstains on) have magnitude 0; images no start breaks have magnitude infinity.

Every reported magnitude holds up: the best start's image is queried once more with a fresh full
`n_query`-sample query. If that query returns the label, the image is `query_fooled` (the attack
only fooled the queries along its path) and counts as unbroken (magnitude infinity); its L0 on
the query path is kept apart as `query_l0`.

The attack's parts, one module each: the early decision of a query (`attack_decision`), Foolbox's
view of the smoothed classifier (`attack_oracle`), Foolbox 2's starting point
(`attack_starting_point`) and what a shard stores (`attack_records`); this module runs them,
start by start and image by image, resumably, and holds the pipeline's attack job.

Starting points (`init`): "foolbox2" is what the authors ran (Foolbox 2's PointwiseAttack, which
starts from Foolbox 2's SaltAndPepperNoiseAttack at its defaults, `foolbox2_salt_and_pepper`);
"foolbox3" is Foolbox 3.3.4's SaltAndPepperNoiseAttack (`init_steps` steps, least L2 noise kept).
Foolbox 3's PointwiseAttack re-queries its starting point; where that fresh query disagrees, a new
starting point is drawn, up to `init_tries` times (Foolbox 2 did not re-query it).

Foolbox's second phase (`l2_binary_search`, which Foolbox 2 always ran) loops again over every
pixel that is still changed, in a fresh random order: it first resets the pixel to its original
value and keeps the reset if the image stays adversarial (this lowers L0), else binary-searches
the pixel's value between the adversarial and the original one (10 queries); it repeats the loop
until one makes no change. Against a randomized classifier the loop can go on; `max_queries` caps
a start's queries as a safety net, and whether it bound is recorded per image.

Randomness: each (image, start) has its own seed from `derive_seed(seed, "attack", index, start)`.
It seeds torch's global RNG (Foolbox 3's salt-and-pepper noise), numpy's global RNG (Foolbox's
pixel order), the generator of Foolbox 2-style starting points and the start's keep-set stream
(`streams.Stream`: each query reads samples no earlier query read); both global states are
restored afterwards.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import certificates
from .attack_decision import (
    is_adversarial_counts,
    max_adversarial_margin,
    sequential_decision,
    sequential_schedule,
)
from .attack_oracle import SmoothedMisclassification, SmoothedOracle
from .attack_records import (
    PER_IMAGE,
    ImageResult,
    StartResult,
    resumed_starts,
    shard_header,
    stack_rows,
    start_progress,
)
from .attack_starting_point import foolbox2_salt_and_pepper, l0_pixels
from .attack_statuses import BROKEN, CLEAN, QUERY_FOOLED, UNBROKEN
from .files import ResumableNpz
from .seeding import derive_seed
from .smoothing import Smoothed
from .streams import Stream

# Foolbox imports GitPython (for its model zoo), which fails at import without a git executable
# unless told to stay quiet; the attack never uses git.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

from foolbox.attacks import PointwiseAttack, SaltAndPepperNoiseAttack

# What the library and its tests import from here, the attack's parts' names among them.
__all__ = [
    "DECISIONS",
    "INITS",
    "AttackSettings",
    "ImageResult",
    "SmoothedMisclassification",
    "SmoothedOracle",
    "StartResult",
    "attack_image",
    "attack_images",
    "attack_start",
    "foolbox2_salt_and_pepper",
    "is_adversarial_counts",
    "l0_pixels",
    "max_adversarial_margin",
    "sequential_decision",
    "sequential_schedule",
]

INITS = ("foolbox2", "foolbox3")
DECISIONS = ("sequential", "full")


@dataclass(frozen=True, kw_only=True)
class AttackSettings:
    """How each image is attacked (the config's `attack` section, less the pipeline keys).

    `n_query` and `starts` have no default: the paper's values live in config.yaml. The other
    defaults describe the attack, not the paper's experiment: Foolbox's own (Foolbox 2's
    `init_epsilons` and `init_repetitions`, `l2_binary_search`), the usual test level `alpha`
    (`SmoothedOracle`'s too), and this library's choices (`init`, `init_steps`, `init_tries`,
    the safety net `max_queries`, the early `decision` and its `delta`).
    """

    n_query: int
    alpha: float = 0.05
    starts: int
    init: str = "foolbox2"
    init_epsilons: int = 100
    init_repetitions: int = 10
    init_steps: int = 100
    init_tries: int = 3
    l2_binary_search: bool = True
    max_queries: int | None = 100_000
    decision: str = "sequential"
    delta: float = 1e-4

    def __post_init__(self) -> None:
        counts = (self.n_query, self.starts, self.init_steps, self.init_tries)
        counts += (self.init_epsilons, self.init_repetitions)
        if min(counts) < 1:
            raise ValueError(f"counts of samples, starts, steps and tries must be >= 1: {self}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")
        if self.max_queries is not None and self.max_queries < 1:
            raise ValueError(f"max_queries must be >= 1 or None, got {self.max_queries}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, got {self.decision!r}")
        if not 0.0 < self.delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {self.delta}")


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
    """Run one start: a starting point (`settings.init`), then Foolbox's PointwiseAttack.run.

    x is one image (1, C, H, W) on the CPU. The randomized classifier may not call a starting
    point adversarial again: one is kept only if PointwiseAttack's entry check (a fresh query)
    calls it adversarial, and for "foolbox3" also a filter query before it; else a new one is
    drawn, up to `init_tries` times. A start with no kept starting point finds nothing: l0 = inf
    and the clean image is returned.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"attack_start takes one image (1, C, H, W), got {tuple(x.shape)}")
    x = x.detach().to("cpu", torch.float32)
    stream = Stream(derive_seed(seed, "queries"))
    delta = settings.delta if settings.decision == "sequential" else None
    oracle = SmoothedOracle(
        smoothed, settings.n_query, stream, settings.max_queries, label, settings.alpha, delta
    )
    criterion = SmoothedMisclassification()
    rng = np.random.default_rng(derive_seed(seed, "init") % 2**63)

    def is_adversarial(z: torch.Tensor) -> bool:
        return bool(criterion(z, oracle(z)).all())

    result = None
    with _SeededGlobals(seed):
        for _ in range(settings.init_tries):
            if settings.init == "foolbox2":
                start_point = foolbox2_salt_and_pepper(
                    is_adversarial, x, settings.init_epsilons, settings.init_repetitions, rng
                )
            else:
                start_point = SaltAndPepperNoiseAttack(steps=settings.init_steps).run(
                    oracle, x, criterion
                )
                # Filter: Foolbox's run asserts that its starting point is adversarial.
                if not (bool(torch.any(start_point != x)) and is_adversarial(start_point)):
                    start_point = None
            if start_point is not None:
                result = _pointwise(settings, oracle, x, criterion, start_point)
            if result is not None or oracle.refused > 0:
                break
    spent = oracle.refused > 0
    if result is None:
        return StartResult(
            start, seed, False, float("inf"), x, oracle.queries, spent, oracle.samples
        )
    l0 = float(l0_pixels(x, result).item())
    return StartResult(start, seed, True, l0, result, oracle.queries, spent, oracle.samples)


def _pointwise(
    settings: AttackSettings,
    oracle: SmoothedOracle,
    x: torch.Tensor,
    criterion: SmoothedMisclassification,
    start_point: torch.Tensor,
) -> torch.Tensor | None:
    """Foolbox's PointwiseAttack from `start_point`; None when its entry check rejects the start.

    The entry check re-queries the starting point with fresh ablations; near the boundary the
    smoothed classifier may disagree with the query that found it, and then this try finds
    nothing; if the query budget refuses the check, the starting point is returned as the best
    image so far. With `l2_binary_search` Foolbox runs its second phase (module docstring).
    """
    attack = PointwiseAttack(l2_binary_search=settings.l2_binary_search)
    queries_before, refused_before = oracle.queries + oracle.refused, oracle.refused
    try:
        return attack.run(oracle, x, criterion, starting_points=start_point)
    except AssertionError:
        if oracle.queries + oracle.refused - queries_before == 1:
            # The budget ran out at the entry check: the starting point is the best image so far.
            return start_point if oracle.refused > refused_before else None
        raise


def attack_image(
    smoothed: Smoothed,
    x: torch.Tensor,
    label: int,
    index: int,
    settings: AttackSettings,
    seed: int,
    log: logging.Logger | None = None,
    done: Sequence[StartResult] = (),
    on_start: Callable[[list[StartResult]], None] | None = None,
) -> ImageResult:
    """Attack one image (1, C, H, W) from `settings.starts` starts; keep the smallest L0.

    The best start's image is verified by a fresh full query: broken if it is misclassified or
    abstained on, else `query_fooled` with magnitude inf (its query-path L0 stays in query_l0).
    `done` holds the first starts' results from a checkpoint (each start has its own seed, so
    the rest are what they would have been); after each start run here, `on_start` is called
    with the results of every start so far.
    """
    log = log or logging.getLogger(__name__)
    started = time.monotonic()
    x = x.detach().to("cpu", torch.float32)
    clean_oracle = SmoothedOracle(
        smoothed, settings.n_query, derive_seed(seed, "attack", index, "clean")
    )
    clean_counts = clean_oracle.vote_counts(x)[0]
    clean_prediction = int(certificates.predict_from_counts(clean_counts[None], settings.alpha)[0])
    start_l0 = np.full(settings.starts, np.nan)
    start_queries = np.zeros(settings.starts, dtype=np.int64)
    results: list[StartResult] = []
    if clean_prediction != label:
        status, query_l0, best, adv = CLEAN, 0.0, -1, x
    else:
        for start in range(settings.starts):
            resumed = start < len(done)
            if resumed:
                result = done[start]
            else:
                start_seed = derive_seed(seed, "attack", index, start)
                start_started = time.monotonic()
                result = attack_start(smoothed, x, label, settings, start_seed, start)
                result.seconds = time.monotonic() - start_started
            results.append(result)
            if on_start is not None and not resumed:
                on_start(results)
            start_l0[start] = result.l0
            start_queries[start] = result.queries
            log.info(
                "image %d start %d/%d: L0 %s (%d queries, %.0f samples/query%s%s)",
                index,
                start + 1,
                settings.starts,
                f"{result.l0:g}" if result.found else "none",
                result.queries,
                result.samples / max(result.queries, 1),
                ", budget spent" if result.budget_spent else "",
                ", from the checkpoint" if resumed else "",
            )
        found = [r for r in results if r.found]
        if found:
            best_result = min(found, key=lambda r: (r.l0, r.start))
            status, query_l0, best, adv = (
                BROKEN,
                best_result.l0,
                best_result.start,
                best_result.image,
            )
        else:
            status, query_l0, best, adv = UNBROKEN, float("inf"), -1, x
    if status == CLEAN:
        adv_counts = clean_counts
    else:
        verify = SmoothedOracle(
            smoothed, settings.n_query, derive_seed(seed, "attack", index, "verify")
        )
        adv_counts = verify.vote_counts(adv)[0]
    adv_prediction = int(certificates.predict_from_counts(adv_counts[None], settings.alpha)[0])
    if status == BROKEN and adv_prediction == label:
        status = QUERY_FOOLED
    l0 = query_l0 if status in (CLEAN, BROKEN) else float("inf")
    extra_queries = 1 + int(status != CLEAN)
    # The clean and the verifying query draw n_query samples (one forward pass when k >= d).
    full_samples = 1 if smoothed.k >= x.shape[-2] * x.shape[-1] else settings.n_query
    return ImageResult(
        index=int(index),
        label=int(label),
        status=status,
        l0=float(l0),
        query_l0=float(query_l0),
        best_start=int(best),
        clean_counts=clean_counts.astype(np.int64),
        clean_prediction=clean_prediction,
        adv_image=adv[0].clone(),
        adv_counts=np.asarray(adv_counts, dtype=np.int64),
        adv_prediction=adv_prediction,
        start_l0=start_l0,
        start_queries=start_queries,
        queries=int(start_queries.sum()) + extra_queries,
        samples=int(sum(r.samples for r in results)) + extra_queries * full_samples,
        budget_bound=any(r.budget_spent for r in results),
        seconds=time.monotonic() - started + sum(r.seconds for r in done),
        starts=results,
    )


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
    """Attack every image and write one .npz; resumable start by start from `checkpoint_path`.

    The file holds, per image (in `PER_IMAGE` order): index, label, status (clean / broken /
    unbroken / query_fooled), l0 (the verified magnitude: 0, pixels, or inf), query_l0 (the L0
    the queries along the attack's path accepted), best_start, the clean and adversarial vote
    counts and predictions (−1: abstain; the adversarial ones from the fresh full query), both
    images, each start's L0 (inf: nothing found; nan: not run) and queries, the samples drawn,
    whether a start's query budget bound, and seconds; plus the job's settings as scalars.
    """
    log = log or logging.getLogger(__name__)
    indices = np.asarray(indices, dtype=np.int64)
    labels_np = np.asarray(labels, dtype=np.int64)
    if not len(images) == len(labels_np) == len(indices) or len(indices) == 0:
        raise ValueError("need as many images, labels and indices, at least one")
    d = images.shape[-2] * images.shape[-1]
    result = ResumableNpz(
        out_path,
        checkpoint_path,
        shard_header(smoothed, settings, seed, d),
        "attack-image",
        checkpoint_header={"all_index": indices},
    )
    rows: dict[str, list] = {name: [] for name in PER_IMAGE}
    partial = result.resume()
    if partial is not None and all(name in partial for name in PER_IMAGE):
        rows = {name: list(partial[name]) for name in PER_IMAGE}
    first = len(rows["index"])
    resumed = resumed_starts(partial, int(indices[first])) if first < len(indices) else []
    if first or resumed:
        log.info(
            "resuming from %s: %d of %d images already attacked; %d of %d starts of the next done",
            result.checkpoint,
            first,
            len(indices),
            len(resumed),
            settings.starts,
        )
    started = time.monotonic()
    for position in range(first, len(indices)):
        x = images[position : position + 1]
        index = int(indices[position])

        def save_starts(starts: list[StartResult], index: int = index) -> None:
            done_rows = stack_rows(rows) if rows["index"] else {}
            result.save(done_rows, point="attack-start", **start_progress(index, starts))

        image = attack_image(
            smoothed,
            x,
            int(labels_np[position]),
            index,
            settings,
            seed,
            log,
            done=resumed if position == first else (),
            on_start=save_starts,
        )
        for name in PER_IMAGE:
            value = x[0] if name == "clean_image" else getattr(image, name)
            rows[name].append(value.numpy() if isinstance(value, torch.Tensor) else value)
        done = position + 1
        rate = (done - first) / max(time.monotonic() - started, 1e-9)
        log.info(
            "attacked %d/%d images: index %d %s, L0 %g (query path %g), %d queries, "
            "%.0f samples/query%s, %.1f s (about %.0f s left)",
            done,
            len(indices),
            image.index,
            image.status,
            image.l0,
            image.query_l0,
            image.queries,
            image.samples / max(image.queries, 1),
            ", query budget bound" if image.budget_bound else "",
            image.seconds,
            (len(indices) - done) / max(rate, 1e-9),
        )
        if done < len(indices):  # the last image goes straight into the result
            result.save(stack_rows(rows))
    result.finish(stack_rows(rows))
