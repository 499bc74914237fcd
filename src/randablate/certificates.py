"""Randomized-ablation certificates: Δ, certified radii, confidence bounds and summaries."""

from __future__ import annotations

import functools
import numbers

import numpy as np
from scipy import stats

__all__ = [
    "certified_accuracy",
    "certified_radius",
    "certify_from_counts",
    "delta",
    "lower_confidence_bound",
    "median_certified_robustness",
    "predict_from_counts",
    "robustness",
    "two_sided_binomial_pvalue",
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


def certified_accuracy(robustness: np.ndarray, rhos: int | np.ndarray) -> np.ndarray:
    """Return the fraction of images with certified robustness >= ρ, for each ρ in rhos."""
    r = np.sort(np.asarray(robustness, dtype=np.float64).ravel())
    if r.size == 0:
        raise ValueError("robustness is empty")
    q = np.asarray(rhos, dtype=np.float64)
    below = np.searchsorted(r, q, side="left")
    return ((r.size - below) / r.size).astype(np.float64)
