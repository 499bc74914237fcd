"""Randomized-ablation certificates: Δ, certified radii, confidence bounds and summaries."""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
from scipy import stats

__all__ = [
    "certified_accuracy",
    "certified_radius",
    "certify_from_counts",
    "certify_joint",
    "certify_topk",
    "delta",
    "joint_radius",
    "least_votes_to_decide",
    "lower_confidence_bound",
    "median_certified_robustness",
    "median_or_na",
    "predict_from_counts",
    "robustness",
    "topk_radius",
    "two_sided_binomial_pvalue",
    "upper_confidence_bound",
]


def _check_dims(d: int, k: int) -> tuple[int, int]:
    """Validate the pixel count d and retention constant k (0 <= k <= d, d >= 1)."""
    for name, value in (("d", d), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    d, k = int(d), int(k)
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    if not 0 <= k <= d:
        raise ValueError(f"k must satisfy 0 <= k <= d = {d}, got {k}")
    return d, k


def _as_int_array(values: object, name: str) -> np.ndarray:
    """Return `values` as an int64 array, rejecting non-integral, non-finite or boolean input."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        raise ValueError(f"{name} must hold integers, got booleans")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)):
            raise ValueError(f"{name} must hold integer values")
        return arr.astype(np.int64)
    raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")


def _scalar_or_array(arr: np.ndarray, scalar: bool) -> np.ndarray | int | float:
    """Return a Python scalar for 0-d results when the input was a scalar, else the array."""
    return arr.item() if scalar else arr


@functools.lru_cache(maxsize=16)
def _survival(d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (log S, -S) for ρ = 0..d, where S(ρ) = C(d-ρ,k)/C(d,k), in extended precision."""
    j = np.arange(d - k, dtype=np.longdouble)
    terms = np.log1p(-np.longdouble(k) / (np.longdouble(d) - j))
    log_s = np.full(d + 1, -np.inf, dtype=np.longdouble)
    log_s[0] = 0.0
    log_s[1 : d - k + 1] = np.cumsum(terms)
    neg_s = -np.exp(log_s)  # non-decreasing in ρ, ready for np.searchsorted
    log_s.setflags(write=False)
    neg_s.setflags(write=False)
    return log_s, neg_s


def delta(rho: int | np.ndarray, d: int, k: int) -> float | np.ndarray:
    """Return Theorem 1's Δ = 1 − C(d−ρ,k)/C(d,k) for each ρ (ρ > d acts as ρ = d)."""
    d, k = _check_dims(d, k)
    scalar = np.ndim(rho) == 0
    r = _as_int_array(rho, "rho")
    if np.any(r < 0):
        raise ValueError("rho must be >= 0")
    log_s, _ = _survival(d, k)
    out = (0.0 - np.expm1(log_s[np.minimum(r, d)])).astype(np.float64)  # no -0.0
    return _scalar_or_array(out, scalar)


def certified_radius(p_lower: float | np.ndarray, d: int, k: int) -> int | np.ndarray:
    """Return the largest ρ >= 0 with p_lower − Δ(ρ) > 1/2, or −1 where none exists (int64)."""
    d, k = _check_dims(d, k)
    scalar = np.ndim(p_lower) == 0
    p = np.asarray(p_lower, dtype=np.float64)
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError("p_lower must lie in [0, 1] (and not be NaN)")
    _, neg_s = _survival(d, k)
    # p − (1 − S) > 1/2  <=>  S > 3/2 − p; 3/2 − p is exact in float64 for p in [1/2, 1].
    # S is accurate to ~1e-18 relative, so only ties that close can resolve either way.
    threshold = (1.5 - p).astype(np.longdouble)
    count = np.searchsorted(neg_s, -threshold, side="left")  # number of ρ with S(ρ) > threshold
    out = count.astype(np.int64) - 1
    return _scalar_or_array(out, scalar)


def lower_confidence_bound(
    count: int | np.ndarray, n: int | np.ndarray, alpha: float
) -> float | np.ndarray:
    """Return the one-sided (1 − alpha) Clopper–Pearson lower bound on a binomial proportion."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    scalar = np.ndim(count) == 0 and np.ndim(n) == 0
    c, m = np.broadcast_arrays(_as_int_array(count, "count"), _as_int_array(n, "n"))
    if np.any(m < 1) or np.any(c < 0) or np.any(c > m):
        raise ValueError("need n >= 1 and 0 <= count <= n")
    a = np.maximum(c, 1).astype(np.float64)
    bound = stats.beta.ppf(alpha, a, (m - c + 1).astype(np.float64))
    out = np.where(c == 0, 0.0, bound).astype(np.float64)
    return _scalar_or_array(out, scalar)


def upper_confidence_bound(
    count: int | np.ndarray, n: int | np.ndarray, alpha: float
) -> float | np.ndarray:
    """Return the one-sided (1 − alpha) Clopper–Pearson upper bound on a binomial proportion."""
    c, m = np.broadcast_arrays(_as_int_array(count, "count"), _as_int_array(n, "n"))
    scalar = np.ndim(count) == 0 and np.ndim(n) == 0
    if np.any(m < 1) or np.any(c < 0) or np.any(c > m):
        raise ValueError("need n >= 1 and 0 <= count <= n")
    out = 1.0 - np.asarray(lower_confidence_bound(m - c, m, alpha), dtype=np.float64)
    return _scalar_or_array(out, scalar)


def two_sided_binomial_pvalue(a: int | np.ndarray, b: int | np.ndarray) -> float | np.ndarray:
    """Return the two-sided binomial-test p-value of a successes in a + b trials at p = 1/2."""
    scalar = np.ndim(a) == 0 and np.ndim(b) == 0
    x, y = np.broadcast_arrays(_as_int_array(a, "a"), _as_int_array(b, "b"))
    if np.any(x < 0) or np.any(y < 0):
        raise ValueError("a and b must be >= 0")
    n = x + y
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        tails = stats.binom.cdf(lo, n, 0.5) + stats.binom.sf(hi - 1, n, 0.5)
    out = np.where(lo == hi, 1.0, np.minimum(1.0, tails)).astype(np.float64)
    return _scalar_or_array(out, scalar)


def _check_counts(counts: np.ndarray, name: str) -> np.ndarray:
    """Validate a (B, C) array of non-negative integer vote counts with C >= 2."""
    arr = _as_int_array(counts, name)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{name} must have shape (B, C) with C >= 2, got {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative")
    return arr


def least_votes_to_decide(alpha: float) -> int:
    """Fewest votes with which even a unanimous vote passes the two-sided test at `alpha`."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    # a unanimous vote of n has two-sided p-value min(1, 2 / 2**n)
    n = max(1, math.ceil(math.log2(2.0 / alpha)))
    while 2.0 * 0.5**n > alpha:  # guard against rounding of log2 at exact powers of two
        n += 1
    return n


def predict_from_counts(counts: np.ndarray, alpha: float) -> np.ndarray:
    """Return each row's top class, or −1 (abstain) where the top two counts are not separated."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    arr = _check_counts(counts, "counts")
    top = np.argmax(arr, axis=1)
    top_two = np.sort(arr, axis=1)[:, -2:]
    pvalue = two_sided_binomial_pvalue(top_two[:, 1], top_two[:, 0])
    return np.where(pvalue <= alpha, top, -1).astype(np.int64)


def certify_from_counts(
    counts_select: np.ndarray, counts_bound: np.ndarray, alpha: float, d: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (guess, p_lower, radius) per row from selection and bounding vote counts."""
    select = _check_counts(counts_select, "counts_select")
    bound = _check_counts(counts_bound, "counts_bound")
    if select.shape != bound.shape:
        raise ValueError(f"shape mismatch: {select.shape} vs {bound.shape}")
    guess = np.argmax(select, axis=1).astype(np.int64)
    n = bound.sum(axis=1)
    p_lower = np.asarray(
        lower_confidence_bound(bound[np.arange(len(guess)), guess], n, alpha), dtype=np.float64
    )
    radius = np.asarray(certified_radius(p_lower, d, k), dtype=np.int64)
    return guess, p_lower, radius


def robustness(guess: np.ndarray, label: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Return per-image certified robustness: −inf if misclassified, else max(radius, 0)."""
    g, y, r = np.broadcast_arrays(np.asarray(guess), np.asarray(label), np.asarray(radius))
    return np.where(g == y, np.maximum(r, 0).astype(np.float64), -np.inf)


def median_certified_robustness(robustness: np.ndarray) -> float:
    """Return the largest ρ such that at least half of the images have robustness >= ρ."""
    r = np.asarray(robustness, dtype=np.float64).ravel()
    if r.size == 0:
        raise ValueError("robustness is empty")
    if np.any(np.isnan(r)):
        raise ValueError("robustness contains NaN")
    needed = -(-r.size // 2)  # ceil(N / 2) images must reach ρ
    return float(np.sort(r)[::-1][needed - 1])


def median_or_na(robustness: np.ndarray) -> int | None:
    """The median certified robustness in pixels, or None (the paper's N/A) when it is −inf."""
    median = median_certified_robustness(robustness)
    return None if np.isneginf(median) else int(median)


def certified_accuracy(robustness: np.ndarray, rhos: int | np.ndarray) -> np.ndarray:
    """Return the fraction of images with certified robustness >= ρ, for each ρ in rhos."""
    r = np.sort(np.asarray(robustness, dtype=np.float64).ravel())
    if r.size == 0:
        raise ValueError("robustness is empty")
    q = np.asarray(rhos, dtype=np.float64)
    below = np.searchsorted(r, q, side="left")
    return ((r.size - below) / r.size).astype(np.float64)


# ------------------------------------------------ certificates from simultaneous bounds
#
# Theorem 1 moves every class probability by at most Δ(ρ), and all of that movement happens on
# one event of probability at most Δ(ρ) (the keep-set meets the changed pixels): class A loses
# at most min(p_A, Δ) and the other classes gain at most Δ together. With a lower bound on the
# probability of one class and upper bounds on all the others holding simultaneously, that
# gives Corollary 2 (top-1) and Jia et al.'s top-k condition (ICLR 2022, arXiv 2011.07633).


def _radius_below(delta_star: np.ndarray, d: int, k: int) -> np.ndarray:
    """Return the largest ρ >= 0 with Δ(ρ) < delta_star, or −1 where none exists (int64)."""
    _, neg_s = _survival(d, k)
    threshold = (1.0 - np.asarray(delta_star, dtype=np.float64)).astype(np.longdouble)
    count = np.searchsorted(neg_s, -threshold, side="left")  # number of ρ with S(ρ) > threshold
    return count.astype(np.int64) - 1


def _check_bounds(
    p_lower: np.ndarray, p_upper: np.ndarray, classes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (B,) lower bounds, (B, C) upper bounds in [0, 1] and (B,) class indices."""
    lower = np.asarray(p_lower, dtype=np.float64)
    upper = np.asarray(p_upper, dtype=np.float64)
    cls = _as_int_array(classes, "classes")
    if upper.ndim != 2 or upper.shape[1] < 2:
        raise ValueError(f"p_upper must have shape (B, C) with C >= 2, got {upper.shape}")
    if lower.shape != (upper.shape[0],) or cls.shape != lower.shape:
        raise ValueError(f"need p_lower and classes of shape ({upper.shape[0]},)")
    for name, arr in (("p_lower", lower), ("p_upper", upper)):
        if not np.all((arr >= 0.0) & (arr <= 1.0)):
            raise ValueError(f"{name} must lie in [0, 1] (and not be NaN)")
    if np.any(cls < 0) or np.any(cls >= upper.shape[1]):
        raise ValueError(f"classes must lie in 0..{upper.shape[1] - 1}")
    return lower, upper, cls


def _others_descending(upper: np.ndarray, cls: np.ndarray, top: int) -> np.ndarray:
    """Each row's `top` largest upper bounds over the classes other than `cls`, largest first."""
    others = upper.copy()
    others[np.arange(len(cls)), cls] = -np.inf
    return -np.sort(-others, axis=1)[:, :top]


def topk_radius(
    p_lower: np.ndarray, p_upper: np.ndarray, classes: np.ndarray, d: int, k: int, top: int
) -> np.ndarray:
    """Return the largest ρ keeping each row's class among g's `top` classes, or −1 (int64).

    p_lower: (B,) lower bounds on the class's probability; p_upper: (B, C) upper bounds on every
    class (the class's own column is ignored); all must hold simultaneously. ρ is certified when
    Δ(ρ) < max over t = 1..top of (t·p_lower − S_t) / (t + 1), with S_t the sum of the t
    smallest of the `top` largest other upper bounds, capped at 1 − p_lower (which bounds any
    sum of other classes): no `top` other classes can then all reach the class's probability.
    """
    d, k = _check_dims(d, k)
    lower, upper, cls = _check_bounds(p_lower, p_upper, classes)
    if isinstance(top, bool) or not isinstance(top, numbers.Integral):
        raise ValueError(f"top must be an integer, got {top!r}")
    if not 1 <= top < upper.shape[1]:
        raise ValueError(f"top must satisfy 1 <= top < C = {upper.shape[1]}, got {top}")
    smallest_first = _others_descending(upper, cls, int(top))[:, ::-1]
    sums = np.minimum(np.cumsum(smallest_first, axis=1), (1.0 - lower)[:, None])
    t = np.arange(1, int(top) + 1, dtype=np.float64)
    delta_star = np.max((t * lower[:, None] - sums) / (t + 1.0), axis=1)
    return _radius_below(delta_star, d, k)


def joint_radius(
    p_lower: np.ndarray, p_upper: np.ndarray, classes: np.ndarray, d: int, k: int
) -> np.ndarray:
    """Return Corollary 2's largest ρ with p_lower − Δ(ρ) > max other p_upper + Δ(ρ), or −1.

    Shapes as for `topk_radius`; the largest other upper bound is capped at 1 − p_lower.
    """
    d, k = _check_dims(d, k)
    lower, upper, cls = _check_bounds(p_lower, p_upper, classes)
    runner_up = np.minimum(_others_descending(upper, cls, 1)[:, 0], 1.0 - lower)
    return _radius_below((lower - runner_up) / 2.0, d, k)


def _simultaneous_bounds(
    counts: np.ndarray, classes: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson bounds, each at alpha / C (Bonferroni): the class's lower, all uppers."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    level = alpha / counts.shape[1]
    n = counts.sum(axis=1)
    if np.any(n < 1):
        raise ValueError("every row needs at least one vote")
    chosen = counts[np.arange(len(classes)), classes]
    lower = np.asarray(lower_confidence_bound(chosen, n, level), dtype=np.float64)
    upper = np.asarray(upper_confidence_bound(counts, n[:, None], level), dtype=np.float64)
    return lower, upper


def certify_joint(
    counts_select: np.ndarray, counts_bound: np.ndarray, alpha: float, d: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (guess, radius) per row under Corollary 2, all C bounds at alpha / C each."""
    select = _check_counts(counts_select, "counts_select")
    bound = _check_counts(counts_bound, "counts_bound")
    if select.shape != bound.shape:
        raise ValueError(f"shape mismatch: {select.shape} vs {bound.shape}")
    guess = np.argmax(select, axis=1).astype(np.int64)
    lower, upper = _simultaneous_bounds(bound, guess, alpha)
    return guess, joint_radius(lower, upper, guess, d, k)


def certify_topk(
    counts_bound: np.ndarray, labels: np.ndarray, alpha: float, d: int, k: int, top: int
) -> np.ndarray:
    """Return per row the largest ρ keeping the label among g's `top` classes, or −1 (int64)."""
    bound = _check_counts(counts_bound, "counts_bound")
    cls = _as_int_array(labels, "labels")
    if cls.shape != (bound.shape[0],) or np.any(cls < 0) or np.any(cls >= bound.shape[1]):
        raise ValueError(f"labels must be ({bound.shape[0]},) class indices")
    lower, upper = _simultaneous_bounds(bound, cls, alpha)
    return topk_radius(lower, upper, cls, d, k, top)
