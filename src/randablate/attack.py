"""The Pointwise attack (Schott et al. 2019, Foolbox 3.3.4) on the smoothed classifier.

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

Starting points (`init`): "foolbox2" is what the authors ran (Foolbox 2's PointwiseAttack, which
starts from Foolbox 2's SaltAndPepperNoiseAttack at its defaults: `init_repetitions` sweeps over
`init_epsilons` noise levels, a candidate queried only when it changes fewer pixels than the best
so far, the start with the fewest changed pixels kept); "foolbox3" is Foolbox 3.3.4's
SaltAndPepperNoiseAttack (`init_steps` steps, least L2 noise kept). Foolbox 3's PointwiseAttack
re-queries its starting point; where that fresh query disagrees, a new starting point is drawn, up
to `init_tries` times (Foolbox 2 did not re-query it).

Foolbox's second phase (`l2_binary_search`, which Foolbox 2 always ran) loops again over every
pixel that is still changed, in a fresh random order: it first resets the pixel to its original
value and keeps the reset if the image stays adversarial (this lowers L0), else binary-searches
the pixel's value between the adversarial and the original one (10 queries); it repeats the loop
until one makes no change. Against a randomized classifier the loop can go on; `max_queries` caps
a start's queries as a safety net, and whether it bound is recorded per image.

Early decision (`decision: sequential`, see `sequential_decision`): a query draws its samples in
growing batches and stops once its answer agrees with the full `n_query`-sample test except with
probability at most `delta`; otherwise it draws the rest, and its answer is the full test's.

For k = d (no pixel ablated) every ablation is the whole image, so all n votes are the base
classifier's single vote: `SmoothedOracle` evaluates the image once and reports n votes for that
class, which is identical to counting n ablations and 1/n of the cost. Attacking that "smoothed"
classifier is attacking the plain CNN.

Randomness: each (image, start) has its own seed from `derive_seed(seed, "attack", index, start)`.
It seeds torch's global RNG (Foolbox 3's salt-and-pepper noise), numpy's global RNG (Foolbox's
pixel order), the generator of Foolbox 2-style starting points and the start's keep-set stream
(`streams.Stream`: each query reads samples no earlier query read); both global states are
restored afterwards.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import stats

from . import certificates
from .attack_statuses import BROKEN, CLEAN, QUERY_FOOLED, UNBROKEN
from .files import ResumableNpz
from .seeding import derive_seed
from .smoothing import Smoothed
from .streams import Stream

# Foolbox imports GitPython (for its model zoo), which fails at import without a git executable
# unless told to stay quiet; the attack never uses git.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import eagerpy as ep
from foolbox.attacks import PointwiseAttack, SaltAndPepperNoiseAttack
from foolbox.criteria import Criterion
from foolbox.models import Model
from foolbox.types import Bounds

INITS = ("foolbox2", "foolbox3")
DECISIONS = ("sequential", "full")
FIRST_BATCH = 64  # samples of a sequential query's first batch; each later batch doubles the total
NOISE_BLOCK_ELEMENTS = 2**20  # values of the Foolbox 2 starting-point candidates made at once


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


# --- The early decision -------------------------------------------------------------------------


def sequential_schedule(n: int, first: int = FIRST_BATCH) -> list[int]:
    """Sample totals at which a sequential query may stop early: first, 2 first, ... below n."""
    out, m = [], first
    while m < n:
        out.append(m)
        m *= 2
    return out


@functools.lru_cache(maxsize=64)
def max_adversarial_margin(n: int, alpha: float) -> int:
    """Largest lead a − b (a + b <= n) that `predict_from_counts` leaves unseparated at alpha."""
    t = np.arange(1, n + 1)
    # For a > t/2 the p-value 2 P(Bin(t, 1/2) >= a) falls with a: the largest unseparated a is
    # near the (1 - alpha/2) quantile; check a few neighbours exactly with the test itself.
    guess = stats.binom.ppf(1.0 - alpha / 2.0, t, 0.5).astype(np.int64)
    best = t // 2  # a = b (or a = b + 1 when t is odd, checked below): never separated
    for shift in range(-3, 4):
        a = np.clip(guess + shift, 0, t)
        unseparated = certificates.two_sided_binomial_pvalue(a, t - a) > alpha
        best = np.where(unseparated & (a > best), a, best)
    return int(np.max(2 * best - t))


def sequential_decision(
    draw: Callable[[int], np.ndarray],
    label: int,
    n: int,
    alpha: float,
    delta: float,
    num_classes: int,
    first: int = FIRST_BATCH,
) -> tuple[bool, np.ndarray, bool]:
    """Decide "is the smoothed prediction from n votes not `label`?" from as few votes as needed.

    `draw(m)` returns the vote counts (num_classes,) of m fresh samples. Returns (adversarial,
    counts drawn, whether the answer came early). Samples are drawn up to the totals of
    `sequential_schedule(n)`; at each the answer is given early when one of these holds:

    - not adversarial: for every rival class j, a_m − b_jm >= m M / n + τ_m(δ_i);
    - adversarial: for some rival j, a_m − b_jm <= −τ_m(δ_i / (C − 1));

    where a_m and b_jm are the label's and j's votes among the first m, M =
    `max_adversarial_margin(n, alpha)`, τ_m(ε) = sqrt(2 m (1 − (m − 1)/n) ln(1/ε)), C classes and
    δ_i = δ / (number of early totals). Otherwise all n votes are drawn and the full test decides
    (`is_adversarial_counts`, exactly the paper's query).

    Why it agrees with the full test on the same n votes except with probability <= δ, for any
    vote probabilities: given the full counts c_n, the first m votes are a uniform draw without
    replacement from them (the votes are exchangeable). If the full test says adversarial, then
    some rival j has (a_n, b_jn) unseparated, so a_n − b_jn <= M; each vote adds +1, −1 or 0 to
    a − b_j, and Serfling's inequality for sampling without replacement (values in a range of 2)
    gives P(a_m − b_jm − m (a_n − b_jn)/n >= τ_m(ε)) <= ε, so an early "not adversarial" happens
    with probability <= δ_i. If the full test says not adversarial, a_n − b_jn >= 1 for every j,
    and by the same inequality and a union over the C − 1 rivals an early "adversarial" happens
    with probability <= δ_i. Summing over the early totals gives <= δ per query, whatever c_n is.

    Over an attack of Q queries the union bound gives P(any query differs from the full test)
    <= Q δ, and Q δ also bounds the expected number of differing queries. At the paper's settings
    an image takes Q of the order of 10^4 queries (10 starts of up to 1,000 starting-point
    queries, then both phases), so δ = 1e-4 allows about one differing query per image in
    expectation (of some 10^4), not a guarantee that none differs; δ = 1e-6 would bound the
    chance of any difference per image by about 0.01, at about 40% more samples where the answer
    is close. Either way every reported adversarial image is re-checked by a fresh full query.
    """
    checkpoints = sequential_schedule(n, first)
    counts = np.zeros(num_classes, dtype=np.int64)
    drawn = 0
    if checkpoints:
        margin = max_adversarial_margin(n, alpha)
        delta_i = delta / len(checkpoints)
        rivals = np.arange(num_classes) != label
        for m in checkpoints:
            counts += np.asarray(draw(m - drawn), dtype=np.int64)
            drawn = m
            lead = counts[label] - counts[rivals]
            spread = 2.0 * m * (1.0 - (m - 1) / n)
            if np.all(lead >= m * margin / n + math.sqrt(spread * math.log(1.0 / delta_i))):
                return False, counts, True
            if np.any(lead <= -math.sqrt(spread * math.log((num_classes - 1) / delta_i))):
                return True, counts, True
    counts += np.asarray(draw(n - drawn), dtype=np.int64)
    return bool(is_adversarial_counts(counts[None], np.array([label]), alpha)[0]), counts, False


# --- Foolbox's view of the smoothed classifier --------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _unanimous_adversarial(vote: int, label: int, n: int, num_classes: int, alpha: float) -> bool:
    """`is_adversarial_counts` of n votes all for `vote`, kept: a k = d query answers by it."""
    counts = np.zeros((1, num_classes), dtype=np.int64)
    counts[0, vote] = n
    return bool(is_adversarial_counts(counts, [label], alpha)[0])


class SmoothedOracle(Model):
    """Foolbox model of the smoothed classifier: each call answers "adversarial?" afresh.

    A call returns, per image, the vote counts it drew and, in an extra last column, 1.0 where the
    image is adversarial for `label` (misclassified or abstained on at `alpha`) and 0.0 where not.
    With `delta` the answer is decided early (`sequential_decision`), else from all n votes.
    """

    data_format = "channels_first"

    def __init__(
        self,
        smoothed: Smoothed,
        n: int,
        stream: Stream | int | None = None,
        max_queries: int | None = None,
        label: int | None = None,
        alpha: float = 0.05,
        delta: float | None = None,
    ) -> None:
        self.smoothed = smoothed
        self.n = int(n)
        # Every query reads samples of this one stream that no earlier query read.
        self.stream = stream if isinstance(stream, Stream) else Stream(stream)
        self.max_queries = max_queries
        self.label = label
        self.alpha = float(alpha)
        self.delta = delta
        self.queries = 0
        self.refused = 0
        self.samples = 0
        self.early = 0

    @property
    def bounds(self) -> Bounds:
        """Pixel values lie in [0, 1]."""
        return Bounds(0.0, 1.0)

    def _deterministic(self, x: torch.Tensor) -> bool:
        """Whether every ablation keeps every pixel (k = d): one vote stands for all n."""
        return self.smoothed.k == x.shape[-2] * x.shape[-1]

    def _unanimous(self, classes: np.ndarray) -> np.ndarray:
        """Counts (N, classes) of n votes per image, all for its class in `classes` (N,)."""
        counts = np.zeros((len(classes), self.smoothed.num_classes), dtype=np.int64)
        counts[np.arange(len(classes)), classes] = self.n
        return counts

    def vote_counts(self, x: torch.Tensor) -> np.ndarray:
        """Count n fresh votes per image of x (N, C, H, W); k = d counts the one vote n times."""
        if self._deterministic(x):
            return self._unanimous(self.smoothed.classify_whole(x).numpy())
        return self.smoothed.counts(x, self.n, self.stream.take(len(x), self.n)).numpy()

    def decide(self, x: torch.Tensor) -> tuple[bool, np.ndarray]:
        """Answer one image (1, C, H, W): (adversarial, the votes drawn); counts samples."""
        if self.label is None:
            raise ValueError("SmoothedOracle needs the label to answer queries")
        if self._deterministic(x):
            vote = int(self.smoothed.classify_whole(x)[0])
            self.samples += 1
            counts = self._unanimous(np.array([vote]))[0]
            args = (vote, self.label, self.n, self.smoothed.num_classes, self.alpha)
            return _unanimous_adversarial(*args), counts
        if self.delta is None:
            counts = self.vote_counts(x)[0]
            self.samples += self.n
            return bool(is_adversarial_counts(counts[None], [self.label], self.alpha)[0]), counts

        def draw(m: int) -> np.ndarray:
            self.samples += m
            return self.smoothed.counts(x, m, self.stream.take(1, m)).numpy()[0]

        adversarial, counts, early = sequential_decision(
            draw, self.label, self.n, self.alpha, self.delta, self.smoothed.num_classes
        )
        self.early += int(early)
        return adversarial, counts

    def __call__(self, inputs: Any) -> Any:
        """Return (N, classes + 1): votes drawn and the adversarial flag; none once over budget."""
        x, restore_type = ep.astensor_(inputs)
        raw = x.raw.detach()
        batch = raw.shape[0]
        out = np.zeros((batch, self.smoothed.num_classes + 1), dtype=np.float32)
        if self.max_queries is not None and self.queries + batch > self.max_queries:
            self.refused += batch
        else:
            self.queries += batch
            for row in range(batch):
                adversarial, counts = self.decide(raw[row : row + 1])
                out[row, :-1] = counts
                out[row, -1] = float(adversarial)
        return restore_type(ep.astensor(torch.from_numpy(out).to(raw.device)))


class SmoothedMisclassification(Criterion):
    """Foolbox criterion: the adversarial flag the `SmoothedOracle` put in its last column."""

    def __repr__(self) -> str:
        return "SmoothedMisclassification()"

    def __call__(self, perturbed: Any, outputs: Any) -> Any:
        """Boolean tensor (N,): which perturbed inputs the oracle called adversarial."""
        outputs_, restore_type = ep.astensor_(outputs)
        return restore_type(outputs_[:, -1] > 0.5)


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


def foolbox2_salt_and_pepper(
    is_adversarial: Callable[[torch.Tensor], bool],
    x: torch.Tensor,
    epsilons: int,
    repetitions: int,
    rng: np.random.Generator,
) -> torch.Tensor | None:
    """Starting point as Foolbox 2's SaltAndPepperNoiseAttack made it; None if none is found.

    `repetitions` sweeps of the noise level p over `epsilons` even steps in (0, max_p]: each
    candidate sets a share p of the pixels (the same in every channel) to 0 or 1 at random, and
    is queried only if it changes fewer pixels than the best adversarial so far. The first
    adversarial candidate of a sweep becomes the best and ends the sweep, and max_p becomes
    min(1, 1.2 p). Returns the adversarial candidate with the fewest changed pixels.
    """
    _, channels, h, w = x.shape
    # Candidates are made a block at a time from one draw of their uniforms (the same numbers as
    # one draw per candidate); where a sweep ends inside a block, the generator is rewound to just
    # after the candidate that ended it, as if the block's rest had never been drawn.
    block = max(1, NOISE_BLOCK_ELEMENTS // (channels * h * w))
    best, best_l0, max_p = None, math.inf, 1.0
    for _ in range(repetitions):
        levels = np.linspace(0.0, max_p, num=min(epsilons, h * w) + 1)[1:]
        for first in range(0, len(levels), block):
            ps = levels[first : first + block]
            state = rng.bit_generator.state
            u = torch.from_numpy(rng.uniform(size=(len(ps), 1, h, w)))
            p = torch.from_numpy(ps).view(-1, 1, 1, 1)
            candidates = torch.where(u >= 1 - p / 2, 1.0, torch.where(u < p / 2, 0.0, x))
            candidates = candidates.to(x.dtype)
            l0s = l0_pixels(x.expand_as(candidates), candidates).tolist()
            found = None
            for i, l0 in enumerate(l0s):
                if l0 < best_l0 and is_adversarial(candidates[i : i + 1]):
                    found = i
                    break
            if found is not None:
                best, best_l0 = candidates[found : found + 1].clone(), l0s[found]
                max_p = min(1.0, ps[found] * 1.2)
                rng.bit_generator.state = state
                rng.uniform(size=(found + 1, 1, h, w))
                break
    return best


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
        _header(smoothed, settings, seed, d),
        "attack-image",
        checkpoint_header={"all_index": indices},
    )
    rows: dict[str, list] = {name: [] for name in PER_IMAGE}
    partial = result.resume()
    if partial is not None and all(name in partial for name in PER_IMAGE):
        rows = {name: list(partial[name]) for name in PER_IMAGE}
    first = len(rows["index"])
    resumed = _resumed_starts(partial, int(indices[first])) if first < len(indices) else []
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
            done_rows = _stack(rows) if rows["index"] else {}
            result.save(done_rows, point="attack-start", **_start_progress(index, starts))

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
            result.save(_stack(rows))
    result.finish(_stack(rows))


# The finished starts of the image being attacked, as a checkpoint holds them (StartResult's
# fields; `image` per start (1, C, H, W)).
START_FIELDS = ("found", "l0", "image", "queries", "budget_spent", "samples", "seconds", "seed")


def _start_progress(index: int, starts: Sequence[StartResult]) -> dict[str, np.ndarray]:
    """Checkpoint arrays of the finished starts of the image `index` (in start order)."""
    progress = {"current_index": np.int64(index)}
    for name in START_FIELDS:
        values = [getattr(start, name) for start in starts]
        if name == "image":
            values = [value.numpy() for value in values]
        progress[f"current_start_{name}"] = np.stack([np.asarray(v) for v in values])
    return progress


def _resumed_starts(partial: dict[str, np.ndarray] | None, index: int) -> list[StartResult]:
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


def _stack(rows: dict[str, list]) -> dict[str, np.ndarray]:
    """Per-image lists as arrays, one row per image."""
    out = {name: np.stack([np.asarray(v) for v in values]) for name, values in rows.items()}
    out["status"] = out["status"].astype("<U12")
    return out
