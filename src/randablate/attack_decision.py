"""The early decision: a query's answer from as few of its n votes as agree with all n.

A sequential query (`decision: sequential`) draws its samples in growing batches and stops once
its answer agrees with the full `n_query`-sample test except with probability at most `delta`;
otherwise it draws the rest, and its answer is the full test's (`is_adversarial_counts`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from scipy import stats

from . import certificates

FIRST_BATCH = 64  # samples of a sequential query's first batch; each later batch doubles the total


def is_adversarial_counts(counts: np.ndarray, labels: np.ndarray, alpha: float) -> np.ndarray:
    """Per row: True where the prediction from `counts` is not the label (wrong or abstained).

    A row without votes (a query refused once the query budget is spent) is not adversarial.
    """
    counts = np.asarray(counts, dtype=np.int64)
    prediction = certificates.predict_from_counts(counts, alpha)
    return (prediction != np.asarray(labels)) & (counts.sum(axis=1) > 0)


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
