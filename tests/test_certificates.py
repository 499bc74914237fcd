"""randablate.certificates checked against exact arithmetic, scipy, statsmodels, brute force."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from randablate.certificates import (
    certified_accuracy,
    certified_radius,
    certify_from_counts,
    delta,
    lower_confidence_bound,
    median_certified_robustness,
    predict_from_counts,
    robustness,
    two_sided_binomial_pvalue,
)

HALF = Fraction(1, 2)
TIE_TOL = 1e-12


def exact_survival(rho: int, d: int, k: int) -> Fraction:
    """C(d−ρ,k)/C(d,k) exactly, straight from the definition (ρ > d acts as ρ = d)."""
    return Fraction(math.comb(d - min(rho, d), k), math.comb(d, k))


def exact_margin(p: float, rho: int, d: int, k: int) -> Fraction:
    """p − Δ(ρ) − 1/2 in exact arithmetic, p taken as the exact value of the float."""
    return Fraction(p) - (1 - exact_survival(rho, d, k)) - HALF


def exact_radius(p: float, d: int, k: int) -> int:
    """Largest ρ in [0, d] with an exactly positive margin, or −1, by bisection."""
    if exact_margin(p, 0, d, k) <= 0:
        return -1
    lo, hi = 0, d + 1  # margin(lo) > 0; hi is treated as failing
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if exact_margin(p, mid, d, k) > 0:
            lo = mid
        else:
            hi = mid
    return lo


def near_tie(p: float, radius: int, d: int, k: int) -> bool:
    """Whether the exact answer sits within TIE_TOL of flipping (at ρ = radius or radius + 1)."""
    rhos = [0] if radius < 0 else [radius, radius + 1]
    return any(abs(float(exact_margin(p, r, d, k))) < TIE_TOL for r in rhos if r <= d)


# ---------------------------------------------------------------------------- delta


@pytest.mark.parametrize("d", [1, 2, 7, 30])
def test_delta_every_rho_and_k_small_d(d: int) -> None:
    rhos = np.arange(d + 4)
    for k in range(d + 1):
        got = delta(rhos, d, k)
        want = np.array([float(1 - exact_survival(int(r), d, k)) for r in rhos])
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
        assert got.dtype == np.float64
        assert got[0] == 0.0 and not np.signbit(got[0])


def test_delta_random_large_d_matches_exact() -> None:
    rng = np.random.default_rng(1)
    cases = []
    for d in (784, 3072, 50_176):
        for _ in range(25):
            k = int(rng.integers(1, min(d, 4000)))
            cases.append((d, k, int(rng.integers(0, max(2, 3 * d // k)))))
            cases.append((d, k, int(rng.integers(0, d - k + 1))))
    for d, k, rho in cases:
        s = exact_survival(rho, d, k)
        got = delta(rho, d, k)
        assert isinstance(got, float)
        # Δ and 1 − Δ both to near machine precision (relative), the latter while not underflowed
        assert got == pytest.approx(float(1 - s), rel=1e-13, abs=0), (d, k, rho)
        if float(s) > 1e-300:
            assert 1.0 - got == pytest.approx(float(s), rel=1e-12, abs=1e-16), (d, k, rho)


def test_delta_vectorised_equals_elementwise_and_monotone() -> None:
    d, k = 50_176, 1000
    rhos = np.arange(0, d + 10, 7)
    vec = delta(rhos, d, k)
    assert vec.shape == rhos.shape
    assert np.all(np.diff(vec) >= 0)
    for i in range(0, len(rhos), 997):
        assert vec[i] == delta(int(rhos[i]), d, k)
    assert delta(rhos.reshape(-1, 2)[:3], d, k).shape == (3, 2)


def test_delta_edge_cases() -> None:
    d = 784
    assert delta(1, d, 45) == pytest.approx(45 / 784, rel=1e-15)
    # every ρ > d − k gives Δ = 1, exactly
    assert np.all(delta(np.arange(d - 45 + 1, d + 5), d, 45) == 1.0)
    assert 0.0 < 1.0 - delta(17, 20, 3) == pytest.approx(1 / math.comb(20, 3), rel=1e-13)
    # k = d: any change can be seen; k = 0: the classifier ignores its input
    assert delta(0, d, d) == 0.0 and delta(1, d, d) == 1.0
    assert np.all(delta(np.arange(d + 3), d, 0) == 0.0)
    # paper's Figure 2 sanity: Δ grows with k at fixed ρ
    assert np.all(np.diff([delta(10, d, k) for k in (5, 10, 20, 45, 100)]) > 0)


@pytest.mark.parametrize(
    ("rho", "d", "k"),
    [(-1, 10, 2), (1, 10, 11), (1, 10, -1), (1, 0, 0), (1.5, 10, 2), (1, 10.0, 2), (True, 10, 2)],
)
def test_delta_rejects_bad_input(rho: object, d: object, k: object) -> None:
    with pytest.raises(ValueError):
        delta(rho, d, k)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- radius


def test_certified_radius_random_matches_exact() -> None:
    rng = np.random.default_rng(2)
    cases = []
    for d in (20, 784, 50_176):
        for _ in range(30):
            k = int(rng.integers(1, min(d, 3000) + 1))
            cases.append((float(rng.uniform(0.4, 1.0)), d, k))
            cases.append((float(1 - 10 ** rng.uniform(-6, -1)), d, k))
    skipped = 0
    for p, d, k in cases:
        want = exact_radius(p, d, k)
        if near_tie(p, want, d, k):
            skipped += 1
            continue
        got = certified_radius(p, d, k)
        assert isinstance(got, int)
        assert got == want, (p, d, k)
    assert skipped <= 2


@pytest.mark.parametrize(
    ("d", "k"), [(784, 45), (784, 5), (3072, 150), (50_176, 1000), (50_176, 3000)]
)
def test_certified_radius_just_either_side_of_each_boundary(d: int, k: int) -> None:
    # p just above / below the value where ρ becomes certifiable (Δ(ρ) + 1/2), 1e-11 either side
    rhos = list(itertools.takewhile(lambda r: exact_survival(r, d, k) > HALF, range(40)))
    ps, want = [], []
    for rho in rhos[1:]:
        boundary = float(Fraction(3, 2) - exact_survival(rho, d, k))
        for eps in (-1e-11, 1e-11):
            p = boundary + eps
            if p <= 1.0:
                ps.append(p)
                want.append(exact_radius(p, d, k))
    assert len(ps) >= 2
    got = certified_radius(np.array(ps), d, k)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


def test_certified_radius_edge_cases() -> None:
    d, k = 784, 45
    got = certified_radius(np.array([0.0, 0.3, 0.5]), d, k)
    np.testing.assert_array_equal(got, [-1, -1, -1])
    assert certified_radius(np.nextafter(0.5, 1.0), d, k) == 0
    # p = 1: the largest ρ with Δ(ρ) < 1/2
    assert certified_radius(1.0, d, k) == exact_radius(1.0, d, k) == 11
    # k = d: only ρ = 0 is certifiable; k = 0: every ρ up to d
    assert certified_radius(0.99, d, d) == 0
    assert certified_radius(0.51, d, 0) == d
    assert certified_radius(0.5, d, 0) == -1
    # k = 1 gives Δ(ρ) = ρ/d: p − ρ/d > 1/2
    assert certified_radius(0.75, 100, 1) == 24
    # scalar in, scalar out; shapes preserved
    assert certified_radius(np.array(0.9), d, k) == exact_radius(0.9, d, k)
    assert certified_radius(np.full((2, 3), 0.9), d, k).shape == (2, 3)
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError):
            certified_radius(bad, d, k)


def test_certified_radius_vectorised_large() -> None:
    d, k = 50_176, 1000
    p = np.random.default_rng(3).uniform(0.0, 1.0, 10_000)
    got = certified_radius(p, d, k)
    assert got.shape == p.shape and got.dtype == np.int64
    order = np.argsort(p)
    assert np.all(np.diff(got[order]) >= 0)  # monotone in p
    for i in range(0, 10_000, 1000):
        assert got[i] == exact_radius(float(p[i]), d, k)
    # definition: p − Δ(r) > 1/2 and p − Δ(r + 1) <= 1/2
    ok = got >= 0
    assert np.all(p[ok] - delta(got[ok], d, k) > 0.5)
    assert np.all(p - delta(got + 1, d, k) <= 0.5)


# ---------------------------------------------------------------------------- confidence bound


def test_lower_confidence_bound_matches_statsmodels_and_scipy() -> None:
    rng = np.random.default_rng(4)
    n = rng.integers(1, 200_000, size=2000)
    count = (rng.uniform(size=n.size) ** 0.3 * (n + 1)).astype(np.int64).clip(0, n)
    count[:50] = 0
    count[50:100] = n[50:100]
    for alpha in (0.001, 0.05, 0.2):
        got = lower_confidence_bound(count, n, alpha)
        ref = proportion_confint(count, n, alpha=2 * alpha, method="beta")[0]
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
        pos = count > 0
        np.testing.assert_allclose(
            got[pos], stats.beta.ppf(alpha, count[pos], n[pos] - count[pos] + 1), rtol=1e-12
        )
        assert np.all(got[~pos] == 0.0)
        np.testing.assert_allclose(got[50:100], alpha ** (1.0 / n[50:100]), rtol=1e-12)
        assert np.all(got <= count / n)


def test_lower_confidence_bound_scalars_and_errors() -> None:
    got = lower_confidence_bound(990, 1000, 0.05)
    assert isinstance(got, float)
    assert got == pytest.approx(proportion_confint(990, 1000, alpha=0.1, method="beta")[0])
    assert lower_confidence_bound(0, 10, 0.05) == 0.0
    # broadcasting one n over many counts
    assert lower_confidence_bound(np.arange(5), 10, 0.05).shape == (5,)
    for args in [(11, 10, 0.05), (-1, 10, 0.05), (0, 0, 0.05), (5, 10, 0.0), (5, 10, 1.0)]:
        with pytest.raises(ValueError):
            lower_confidence_bound(*args)


# ---------------------------------------------------------------------------- Theorem 1


def _ablation_ids(d: int, k: int) -> np.ndarray:
    """(2**d, C(d,k)) ids of Ablate(x, T) for all binary x and keep-sets T, NULL distinct (3)."""
    xs = np.array(list(itertools.product((0, 1), repeat=d)), dtype=np.int64)
    masks = np.zeros((math.comb(d, k), d), dtype=bool)
    for t, keep in enumerate(itertools.combinations(range(d), k)):
        masks[t, list(keep)] = True
    ablated = np.where(masks[None], xs[:, None, :], 2)
    return ablated @ (3 ** np.arange(d))


def _exact_class_counts(table: np.ndarray, ids: np.ndarray, classes: int) -> np.ndarray:
    """(F, 2**d, classes) counts of keep-sets T with f(Ablate(x, T)) = i, for F lookup tables."""
    votes = table[:, ids]
    return np.stack([(votes == i).sum(-1) for i in range(classes)], axis=-1)


def _max_change_by_distance(counts: np.ndarray, d: int) -> np.ndarray:
    """Largest |count_i(x') − count_i(x)| over f, i and pairs with ‖x − x'‖₀ <= ρ, per ρ."""
    xs = np.arange(2**d)
    hamming = np.array([bin(v).count("1") for v in range(2**d)])[xs[:, None] ^ xs[None, :]]
    change = np.abs(counts[:, :, None, :] - counts[:, None, :, :]).max(axis=(0, 3))
    per_h = np.array([change[hamming == h].max() for h in range(d + 1)])
    return np.maximum.accumulate(per_h)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_theorem1_exhaustive_on_tiny_domain(k: int) -> None:
    d, classes = 6, 3
    ids = _ablation_ids(d, k)
    total = math.comb(d, k)
    bound = np.array([total - math.comb(d - r, k) for r in range(d + 1)])  # Δ(ρ) · C(d,k)
    np.testing.assert_allclose(delta(np.arange(d + 1), d, k) * total, bound, rtol=1e-13, atol=1e-12)

    rng = np.random.default_rng(10 + k)
    random_tables = rng.integers(0, classes, size=(150, 3**d))
    # some low-entropy tables too: mostly one class with a few random flips
    skewed = np.where(rng.uniform(size=(50, 3**d)) < 0.1, rng.integers(0, classes, (50, 3**d)), 0)
    counts = _exact_class_counts(np.concatenate([random_tables, skewed]), ids, classes)
    assert np.all(counts.sum(-1) == total)
    assert np.all(_max_change_by_distance(counts, d) <= bound)

    # tightness: f = 1 iff some kept pixel is 1 moves p_1 by exactly Δ(ρ) between x = 0 and x'
    digits = (np.arange(3**d)[:, None] // 3 ** np.arange(d)) % 3
    tight = (digits == 1).any(axis=1).astype(np.int64)[None]
    np.testing.assert_array_equal(
        _max_change_by_distance(_exact_class_counts(tight, ids, 2), d), bound
    )


# ---------------------------------------------------------------------------- soundness


@pytest.mark.parametrize(("d", "k", "rho"), [(784, 45, 5), (784, 20, 12), (50_176, 1000, 20)])
def test_certificate_overstates_at_most_alpha_share(d: int, k: int, rho: int) -> None:
    alpha, n0, n, trials, true_class = 0.05, 100, 10_000, 20_000, 1
    # p just short of certifying ρ + 1: the true radius is ρ, and over-statement is most likely
    p = float(Fraction(3, 2) - exact_survival(rho + 1, d, k)) - 1e-9
    r_true = certified_radius(p, d, k)
    assert r_true == exact_radius(p, d, k) == rho
    pvals = [(1 - p) / 2, p, (1 - p) / 2]

    rng = np.random.default_rng(rho)
    guess, p_lower, radius = certify_from_counts(
        rng.multinomial(n0, pvals, size=trials), rng.multinomial(n, pvals, size=trials), alpha, d, k
    )
    wrong = ((guess == true_class) & (radius > r_true)) | ((guess != true_class) & (radius >= 0))
    share = wrong.mean()
    se = math.sqrt(alpha * (1 - alpha) / trials)
    assert share <= alpha + 3 * se
    assert share >= alpha / 2  # the guarantee is nearly tight here, not vacuous
    assert np.all(p_lower[radius > r_true] > p)

    # the same probability exactly: P(radius(LCB(X)) > ρ) with X ~ Binomial(n, p)
    radii = certified_radius(lower_confidence_bound(np.arange(n + 1), n, alpha), d, k)
    exact_share = stats.binom.pmf(np.arange(n + 1), n, p)[radii > r_true].sum()
    assert alpha / 2 <= exact_share <= alpha
    assert abs(share - exact_share) <= 4 * se


# ---------------------------------------------------------------------------- prediction


def test_two_sided_binomial_pvalue_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.integers(0, 60, 300), rng.integers(0, 10_000, 200), [0, 0, 7, 500]])
    b = np.concatenate([rng.integers(0, 60, 300), rng.integers(0, 10_000, 200), [0, 9, 7, 520]])
    got = two_sided_binomial_pvalue(a, b)
    want = [
        1.0 if x + y == 0 else stats.binomtest(int(x), int(x + y), 0.5).pvalue
        for x, y in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)
    assert two_sided_binomial_pvalue(0, 0) == 1.0
    assert two_sided_binomial_pvalue(3, 10) == pytest.approx(stats.binomtest(3, 13).pvalue)
    assert two_sided_binomial_pvalue(10, 3) == two_sided_binomial_pvalue(3, 10)


def test_predict_from_counts_matches_binomtest() -> None:
    rng = np.random.default_rng(6)
    rows = []
    for _ in range(300):
        probs = rng.dirichlet(rng.uniform(0.2, 3.0, size=4))
        rows.append(rng.multinomial(int(rng.integers(0, 400)), probs))
    rows += [[0, 0, 0, 0], [5, 5, 1, 0], [0, 9, 2, 9], [30, 0, 0, 0], [0, 0, 0, 6], [6, 0, 0, 0]]
    counts = np.array(rows)
    for alpha in (0.001, 0.05):
        got = predict_from_counts(counts, alpha)
        assert got.dtype == np.int64
        for row, g in zip(counts, got, strict=True):
            order = np.argsort(-row, kind="stable")
            top, second = int(row[order[0]]), int(row[order[1]])
            pvalue = 1.0 if top == 0 else stats.binomtest(top, top + second, 0.5).pvalue
            assert g == (order[0] if pvalue <= alpha else -1), (row, alpha)
    # ties abstain; 6-0 has p = 1/32 < 0.05 while 5-0 (p = 1/16) abstains
    np.testing.assert_array_equal(
        predict_from_counts(np.array([[5, 5, 1], [6, 0, 0], [0, 5, 0], [0, 0, 0]]), 0.05),
        [-1, 0, -1, -1],
    )
    # Cohen's rule predicts when the p-value equals alpha (6-0: p = 2/64 exactly)
    assert two_sided_binomial_pvalue(6, 0) == 2 / 64
    assert predict_from_counts(np.array([[0, 6]]), 2 / 64)[0] == 1
    assert predict_from_counts(np.array([[0, 6]]), np.nextafter(2 / 64, 0))[0] == -1


def test_certify_from_counts_uses_selection_for_the_class() -> None:
    select = np.array([[10, 90, 0], [80, 20, 0], [0, 0, 5], [50, 50, 0]])
    bound = np.array([[9000, 1000, 0], [9990, 10, 0], [10, 10, 9980], [540, 460, 0]])
    alpha, d, k = 0.05, 784, 45
    guess, p_lower, radius = certify_from_counts(select, bound, alpha, d, k)
    np.testing.assert_array_equal(guess, [1, 0, 2, 0])  # argmax of select; first wins a tie
    n = bound.sum(1)
    chosen = bound[np.arange(4), guess]
    ref = proportion_confint(chosen, n, alpha=2 * alpha, method="beta")[0]
    np.testing.assert_allclose(p_lower, ref, rtol=1e-12)
    np.testing.assert_array_equal(radius, [exact_radius(float(q), d, k) for q in p_lower])
    assert radius[0] == -1 and radius[1] >= 9 and radius[3] == 0
    with pytest.raises(ValueError):
        certify_from_counts(select, bound[:, :2], alpha, d, k)


# ---------------------------------------------------------------------------- summaries


def test_robustness_convention() -> None:
    got = robustness(
        np.array([1, 2, 3, 4, -1]), np.array([1, 0, 3, 4, 5]), np.array([7, 9, -1, 0, 3])
    )
    np.testing.assert_array_equal(got, [7.0, -np.inf, 0.0, 0.0, -np.inf])
    assert got.dtype == np.float64


def test_median_hand_examples() -> None:
    inf = np.inf
    assert median_certified_robustness([-inf, -inf, 1, 2, 3]) == 1.0  # the paper's example
    assert median_certified_robustness([3, -inf, 2, -inf, 1]) == 1.0
    assert median_certified_robustness([-inf, -inf, -inf, 1, 2]) == -inf
    assert median_certified_robustness([1, 2, 3, 4]) == 3.0  # N even: 2 of 4 reach 3
    assert median_certified_robustness([-inf, -inf, 5, 8]) == 5.0
    assert median_certified_robustness([-inf, -inf, -inf, 8]) == -inf
    assert median_certified_robustness([0]) == 0.0
    for bad in ([], [1.0, np.nan]):
        with pytest.raises(ValueError):
            median_certified_robustness(bad)


def test_median_matches_brute_force_definition() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        size = int(rng.integers(1, 40))
        r = rng.integers(0, 15, size).astype(float)
        r[rng.uniform(size=size) < rng.uniform()] = -np.inf
        want = max(v for v in set(r.tolist()) if (r >= v).sum() >= size / 2)
        assert median_certified_robustness(r) == want


def test_certified_accuracy() -> None:
    r = np.array([-np.inf, 0, 0, 3, 8])
    got = certified_accuracy(r, [0, 1, 3, 4, 8, 9])
    np.testing.assert_allclose(got, [0.8, 0.4, 0.4, 0.2, 0.2, 0.0])
    rng = np.random.default_rng(8)
    r = np.where(rng.uniform(size=500) < 0.2, -np.inf, rng.integers(0, 30, 500))
    rhos = np.arange(-2, 35)
    np.testing.assert_allclose(certified_accuracy(r, rhos), [(r >= q).mean() for q in rhos])
    # consistency with the median: accuracy at the median is at least one half, just above it less
    med = median_certified_robustness(r)
    assert certified_accuracy(r, [med])[0] >= 0.5
    assert certified_accuracy(r, [med + 1])[0] < 0.5
