"""Corollary 2 and top-k certificates from simultaneous bounds, against brute force and scipy."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint
from test_certificates import _ablation_ids, _exact_class_counts, exact_survival

from randablate.certificates import (
    certify_from_counts,
    certify_joint,
    certify_topk,
    delta,
    joint_radius,
    lower_confidence_bound,
    robustness,
    topk_radius,
    upper_confidence_bound,
)

SLACK = 1e-9  # exact probabilities widened by this much, so that float ties cannot favour a claim


def reference_radius(lower: Fraction, uppers: list[Fraction], d: int, k: int, top: int) -> int:
    """Largest ρ with p − Δ > min_t (S_t + Δ) / t (Jia et al.'s form), exactly; −1 if none.

    uppers: the other classes' upper bounds; S_t is the sum of the t smallest of the `top`
    largest, capped at 1 − p (the rest of the probability).
    """
    largest = sorted(uppers, reverse=True)[:top]
    best = -1
    for rho in range(d + 1):
        dlt = 1 - exact_survival(rho, d, k)
        ok = False
        for t in range(1, top + 1):
            s_t = min(sum(sorted(largest)[:t], Fraction(0)), 1 - lower)
            if lower - dlt > (s_t + dlt) / t:
                ok = True
        if not ok:
            break
        best = rho
    return best


# ---------------------------------------------------------------------------- confidence bounds


def test_upper_confidence_bound_matches_statsmodels() -> None:
    rng = np.random.default_rng(20)
    n = rng.integers(1, 50_000, size=1000)
    count = (rng.uniform(size=n.size) * (n + 1)).astype(np.int64).clip(0, n)
    count[:20], count[20:40] = 0, n[20:40]
    for alpha in (0.005, 0.05):
        got = upper_confidence_bound(count, n, alpha)
        ref = proportion_confint(count, n, alpha=2 * alpha, method="beta")[1]
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-15)
        assert np.all(got[20:40] == 1.0) and np.all(got >= count / n)
        np.testing.assert_allclose(got[:20], 1 - alpha ** (1 / n[:20]), rtol=1e-10)
    with pytest.raises(ValueError):
        upper_confidence_bound(11, 10, 0.05)


# ---------------------------------------------------------------------------- against references


def test_certify_joint_and_topk_match_an_independent_exact_computation() -> None:
    rng = np.random.default_rng(21)
    d, k, alpha, classes = 50, 3, 0.05, 4
    rows = []
    for _ in range(120):
        probs = rng.dirichlet(rng.uniform(0.1, 2.0, classes))
        rows.append(rng.multinomial(int(rng.integers(50, 3000)), probs))
    bound = np.array(rows)
    select = np.array([rng.multinomial(100, (r + 1) / (r + 1).sum()) for r in bound])
    labels = rng.integers(0, classes, len(bound))
    n = bound.sum(1)
    # Bonferroni: each of the C one-sided bounds at alpha / C, two-sided intervals at 2 alpha / C
    lo, hi = proportion_confint(bound, n[:, None], alpha=2 * alpha / classes, method="beta")

    guess, radius = certify_joint(select, bound, alpha, d, k)
    np.testing.assert_array_equal(guess, np.argmax(select, axis=1))
    for i, g in enumerate(guess):
        uppers = [Fraction(float(hi[i, j])) for j in range(classes) if j != g]
        assert radius[i] == reference_radius(Fraction(float(lo[i, g])), uppers, d, k, 1), i
    assert np.any(radius >= 1) and np.any(radius == -1)

    for top in (1, 2, 3):
        got = certify_topk(bound, labels, alpha, d, k, top)
        for i, y in enumerate(labels):
            uppers = [Fraction(float(hi[i, j])) for j in range(classes) if j != y]
            want = reference_radius(Fraction(float(lo[i, y])), uppers, d, k, top)
            assert got[i] == want, (i, top)
        if top == 3:
            assert np.any(got >= 2)


def test_topk_radius_hand_examples() -> None:
    d, k = 784, 20
    delta_star = lambda r: float(delta(r, d, k))  # noqa: E731
    # top-2 with uppers 0.5 (first) and 0.1: Δ* = max((0.3 − 0.1)/2, (0.6 − 0.6)/3) = 0.1
    upper = np.array([[0.5, 0.3, 0.1, 0.1]])
    r = topk_radius(np.array([0.3]), upper, np.array([1]), d, k, 2)[0]
    assert delta_star(r) < 0.1 <= delta_star(r + 1)
    # top-1 at ρ = 0: certified iff the lower bound beats every other upper bound
    assert topk_radius(np.array([0.3]), upper, np.array([1]), d, k, 1)[0] == -1
    assert joint_radius(np.array([0.51]), np.array([[0.51, 0.5]]), np.array([0]), d, k)[0] == 0
    assert joint_radius(np.array([0.5]), np.array([[0.5, 0.5]]), np.array([0]), d, k)[0] == -1
    # the cap 1 − p_lower: uppers of 0.4 on each other class still leave only 0.1 for them
    capped = joint_radius(np.array([0.9]), np.array([[0.9, 0.4, 0.4]]), np.array([0]), d, k)
    assert (
        capped[0]
        == joint_radius(np.array([0.9]), np.array([[0.9, 0.1, 0.1]]), np.array([0]), d, k)[0]
    )
    # with all others at 0, top-1 radius is where Δ < p/2, i.e. p − Δ > Δ
    p = 0.97
    r = joint_radius(np.array([p]), np.array([[p, 0.0, 0.0]]), np.array([0]), d, k)[0]
    assert delta_star(r) < p / 2 <= delta_star(r + 1)
    for bad_top in (0, 4, 1.5):
        with pytest.raises(ValueError):
            topk_radius(np.array([0.3]), upper, np.array([1]), d, k, bad_top)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        topk_radius(np.array([1.3]), upper, np.array([1]), d, k, 1)
    with pytest.raises(ValueError):
        certify_topk(np.array([[5, 5]]), np.array([2]), 0.05, d, k, 1)


# ---------------------------------------------------------------------------- orderings


def test_topk_for_top1_is_never_looser_than_corollary2_and_grows_with_top() -> None:
    rng = np.random.default_rng(22)
    d, k, alpha, classes = 784, 45, 0.05, 10
    probs = rng.dirichlet(np.full(classes, 0.3), size=2000)
    bound = rng.multinomial(1000, probs)
    select = rng.multinomial(100, probs)
    labels = rng.integers(0, classes, 2000)
    labels[:1000] = np.argmax(select[:1000], axis=1)  # half where the guess is the label
    guess, joint = certify_joint(select, bound, alpha, d, k)
    radii = {top: certify_topk(bound, labels, alpha, d, k, top) for top in (1, 2, 3, 9)}
    assert np.all(robustness(labels, labels, radii[1]) >= robustness(guess, labels, joint))
    same = guess == labels
    np.testing.assert_array_equal(radii[1][same], joint[same])
    assert np.all(radii[1] <= radii[2]) and np.all(radii[2] <= radii[3])
    assert np.all(radii[3] <= radii[9]) and np.any(radii[2] > radii[1])
    assert np.any(radii[3] > radii[2])


def test_corollary2_against_corollary1() -> None:
    # Δ* = (p̲_A − p̄_B)/2 against Corollary 1's p̲_A − 1/2: with the votes against A spread over
    # many classes Corollary 2 can go further; with them on one class, and its smaller alpha,
    # it cannot.
    d, k, alpha = 784, 45, 0.05
    spread = np.array([[9000] + [111] * 9])
    one = np.array([[9000, 1000] + [0] * 8])
    for counts, better in ((spread, True), (one, False)):
        _, _, r1 = certify_from_counts(counts, counts, alpha, d, k)
        _, r2 = certify_joint(counts, counts, alpha, d, k)
        assert (r2[0] > r1[0]) == better, (counts, r1, r2)


# ---------------------------------------------------------------------------- exhaustive soundness


def _worst_over_ball(values: np.ndarray, d: int, reduce: str) -> np.ndarray:
    """(F, 2**d, C, d+1): min (or max) of values (F, 2**d, C) over x' with ‖x − x'‖₀ <= ρ."""
    xs = np.arange(2**d)
    hamming = np.array([bin(v).count("1") for v in range(2**d)])[xs[:, None] ^ xs[None, :]]
    out = []
    for rho in range(d + 1):
        inside = hamming <= rho  # (x, x')
        fill = np.iinfo(np.int64).max if reduce == "min" else np.iinfo(np.int64).min
        spread = np.where(inside[None, :, :, None], values[:, None, :, :], fill)
        out.append(spread.min(axis=2) if reduce == "min" else spread.max(axis=2))
    return np.stack(out, axis=-1)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_no_claimed_radius_is_broken_on_a_tiny_domain(k: int) -> None:
    d, classes = 6, 4
    ids = _ablation_ids(d, k)
    total = math.comb(d, k)
    rng = np.random.default_rng(30 + k)
    random_tables = rng.integers(0, classes, size=(60, 3**d))
    skewed = np.where(rng.uniform(size=(60, 3**d)) < 0.15, rng.integers(0, classes, (60, 3**d)), 0)
    counts = _exact_class_counts(np.concatenate([random_tables, skewed]), ids, classes)
    points = counts.shape[1]

    # margin of class i at x': c_i − max_{j≠i} c_j (> 0: g(x') = i); rank: #{j≠i: c_j >= c_i}
    others_max = np.stack([np.delete(counts, i, axis=-1).max(-1) for i in range(classes)], axis=-1)
    margin = counts - others_max
    rank = (counts[..., None, :] >= counts[..., :, None]).sum(-1) - 1
    worst_margin = _worst_over_ball(margin, d, "min")  # (F, x, class, ρ)
    worst_rank = _worst_over_ball(rank, d, "max")

    flat = counts.reshape(-1, classes)
    p = flat / total
    lower_all = np.clip(p - SLACK, 0, 1)
    upper = np.clip(p + SLACK, 0, 1)
    guess = np.argmax(flat, axis=1)
    rows = np.arange(len(flat))
    claimed = {"joint": joint_radius(lower_all[rows, guess], upper, guess, d, k)}
    for top in (1, 2, 3):
        for cls in range(classes):
            labels = np.full(len(flat), cls)
            claimed[top, cls] = topk_radius(lower_all[:, cls], upper, labels, d, k, top)

    f_idx, x_idx = np.divmod(rows, points)
    r = claimed["joint"]
    ok = r >= 0
    assert ok.mean() > 0.2 and (np.any(r >= 1) or k == 3)  # k = 3: Δ(1) = 1/2 >= Δ*
    assert np.all(worst_margin[f_idx[ok], x_idx[ok], guess[ok], r[ok]] > 0)
    certified_somewhere = 0
    for top in (1, 2, 3):
        for cls in range(classes):
            r = claimed[top, cls]
            ok = r >= 0
            certified_somewhere += int(ok.sum())
            assert np.all(worst_rank[f_idx[ok], x_idx[ok], cls, r[ok]] < top), (top, cls)
    assert certified_somewhere > 1000
    assert max(int(v.max()) for v in claimed.values()) >= 1

    # the claims are the largest the condition gives: at ρ + 1 the exact condition fails
    for top in (1, 3):
        r = claimed[top, 0]
        for i in rng.choice(len(flat), 40, replace=False):
            uppers = [Fraction(int(c), total) for j, c in enumerate(flat[i]) if j != 0]
            want = reference_radius(Fraction(int(flat[i, 0]), total), uppers, d, k, top)
            assert r[i] <= want and r[i] >= want - 1, (top, flat[i])


# ---------------------------------------------------------------------------- over-claiming


def _point_estimate_joint(counts_select, counts_bound, alpha, d, k):
    """A planted fault: Corollary 2 from the observed shares, no confidence bounds."""
    guess = np.argmax(counts_select, axis=1)
    shares = counts_bound / counts_bound.sum(axis=1, keepdims=True)
    return guess, joint_radius(shares[np.arange(len(guess)), guess], shares, guess, d, k)


def _point_estimate_topk(counts_bound, labels, alpha, d, k, top):
    """A planted fault: the top-k certificate from the observed shares, no confidence bounds."""
    shares = counts_bound / counts_bound.sum(axis=1, keepdims=True)
    return topk_radius(shares[np.arange(len(labels)), labels], shares, labels, d, k, top)


def _overclaim_share(
    pvals: list[float],
    truth: int,
    label: int | None,
    top: int,
    d: int,
    k: int,
    seed: int,
    point_estimate: bool = False,
) -> tuple[float, float, int]:
    """Share of simulated certificates claiming more than the true radius; also alpha, ρ_true.

    With `point_estimate` the certificates are the planted unsound ones above.
    """
    alpha, n0, n, trials = 0.05, 100, 1000, 20_000
    p = np.array(pvals)
    cls = np.array([truth if label is None else label])
    if label is None:
        r_true = int(joint_radius(p[cls], p[None], cls, d, k)[0])
    else:
        r_true = int(topk_radius(p[cls], p[None], cls, d, k, top)[0])
    rng = np.random.default_rng(seed)
    bound = rng.multinomial(n, p, size=trials)
    if label is None:
        joint = _point_estimate_joint if point_estimate else certify_joint
        guess, radius = joint(rng.multinomial(n0, p, size=trials), bound, alpha, d, k)
        wrong = ((guess == truth) & (radius > r_true)) | ((guess != truth) & (radius >= 0))
    else:
        topk = _point_estimate_topk if point_estimate else certify_topk
        wrong = topk(bound, np.full(trials, label), alpha, d, k, top) > r_true
    return float(wrong.mean()), math.sqrt(alpha * (1 - alpha) / trials), r_true


# The true probabilities sit a hair below the next radius, where a certificate that trusts the
# observed shares claims ρ + 1 about half the time: `planted` swaps in such a certificate and
# checks that the bound on the over-claiming share then fails by far.


@pytest.mark.parametrize("planted", [None, "point estimate"])
def test_corollary2_overclaims_at_most_alpha_share(planted) -> None:
    d, k, rho = 784, 45, 3
    gap = 2 * float(delta(rho + 1, d, k)) - 1e-9  # p_A − p_B just short of certifying ρ + 1
    p_b = 0.2
    rest = 1 - p_b - (p_b + gap)
    pvals = [p_b + gap, p_b, rest / 2, rest / 2]
    share, se, r_true = _overclaim_share(pvals, 0, None, 1, d, k, 1, point_estimate=bool(planted))
    assert r_true == rho
    assert (share <= 0.05 + 3 * se) is (planted is None), share
    if planted:
        assert share > 0.3  # it fails clearly, not by a whisker
    else:
        assert share > 0.001  # near the boundary the guarantee is not vacuous


@pytest.mark.parametrize("planted", [None, "point estimate"])
def test_topk_overclaims_at_most_alpha_share(planted) -> None:
    d, k, rho = 784, 20, 1
    # label 1 second of four; Δ* = (p_1 − p_3) / 2 just short of Δ(ρ + 1)
    p3 = 0.15
    p1 = p3 + 2 * float(delta(rho + 1, d, k)) - 1e-9
    pvals = [0.45, p1, p3, 1 - 0.45 - p1 - p3]
    assert pvals[3] < p3
    share, se, r_true = _overclaim_share(pvals, 0, 1, 2, d, k, 2, point_estimate=bool(planted))
    assert r_true == rho
    assert (share <= 0.05 + 3 * se) is (planted is None), share
    if planted:
        assert share > 0.3  # it fails clearly, not by a whisker


def test_bonferroni_bounds_fail_together_at_most_alpha() -> None:
    # the event every certificate above rests on: all C bounds hold at once
    alpha, n, trials = 0.05, 500, 20_000
    p = np.array([0.6, 0.25, 0.1, 0.05])
    rng = np.random.default_rng(3)
    counts = rng.multinomial(n, p, size=trials)
    level = alpha / len(p)
    low = lower_confidence_bound(counts, n, level)
    high = upper_confidence_bound(counts, n, level)
    # any class's lower or upper bound may be the one used; count a failure of either side
    fail_lower = (low > p).any(axis=1)
    fail_upper = (high < p).any(axis=1)
    assert fail_lower.mean() <= alpha + 3 * math.sqrt(alpha / trials)
    assert fail_upper.mean() <= alpha + 3 * math.sqrt(alpha / trials)
