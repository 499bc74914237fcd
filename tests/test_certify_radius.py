"""Smoothed.certify_radius: staged tests of one radius, on classifiers with known vote odds."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from randablate import certificates
from randablate.certificates import certified_radius, delta, lower_confidence_bound
from randablate.encoding import get_encoding
from randablate.smoothing import Smoothed

D, K, RADIUS, ALPHA, N0 = 28 * 28, 45, 4, 0.05, 100
STAGES = (100, 1000, 10_000)
THRESHOLD = 0.5 + float(delta(RADIUS, D, K))  # p must exceed this for ρ = 4 to be certifiable


class KnownVotes(Smoothed):
    """A smoothed classifier whose votes are multinomial with known per-image class odds.

    Image i of a batch is recognised by the value i written in its first pixel.
    """

    def __init__(self, probs: np.ndarray, k: int, seed: int) -> None:  # no base model at all
        self.k = k
        self.num_classes = probs.shape[1]
        self.probs = probs
        self.rng = np.random.default_rng(seed)
        self.calls: list[tuple[int, int]] = []

    def counts(self, x: torch.Tensor, n: int, seeds=None) -> torch.Tensor:
        index = x[:, 0, 0, 0].long().numpy()
        self.calls.append((len(index), n))
        return torch.from_numpy(self.rng.multinomial(n, self.probs[index]))


def indexed_images(count: int) -> torch.Tensor:
    x = torch.zeros(count, 1, 28, 28)
    x[:, 0, 0, 0] = torch.arange(count, dtype=torch.float32)
    return x


def odds(p_top: float, classes: int = 10) -> np.ndarray:
    """Class 0 with p_top, the rest spread evenly over the other classes."""
    return np.array([p_top] + [(1 - p_top) / (classes - 1)] * (classes - 1))


def exact_threshold(radius: int = RADIUS, d: int = D, k: int = K) -> float:
    """1/2 + Δ(radius) from exact integer binomials: p must exceed it to certify `radius`."""
    return float(Fraction(1, 2) + 1 - Fraction(math.comb(d - radius, k), math.comb(d, k)))


def exact_staged(p: float, stages: tuple[int, ...] = STAGES, alpha: float = ALPHA) -> tuple:
    """P(certified) and E[stage samples] given the right class, from binomial tail sums.

    Independent of the library's Clopper–Pearson quantiles: with c of n votes, the lower bound
    exceeds t exactly when P(X >= c | t) < level, and the upper bound is at most t exactly when
    P(X <= c | t) <= level (X binomial(n, t), t the exact threshold).
    """
    level, t = alpha / len(stages), exact_threshold()
    reach, p_cert, samples = 1.0, 0.0, 0.0
    for n in stages:
        c = np.arange(n + 1)
        win = (c >= 1) & (stats.binom.sf(c - 1, n, t) < level)
        lose = stats.binom.cdf(c, n, t) <= level
        assert not np.any(win & lose)
        pmf = stats.binom.pmf(c, n, p)
        samples += reach * n
        p_cert += reach * pmf[win].sum()
        reach *= 1 - pmf[win].sum() - pmf[lose].sum()
    return p_cert, samples


def one_shot(p: float, n: int, alpha: float) -> float:
    """P(the one-shot certificate with n bound samples reaches RADIUS) given the right class."""
    c = np.arange(n + 1)
    ok = certified_radius(lower_confidence_bound(c, n, alpha), D, K) >= RADIUS
    return float(stats.binom.pmf(c, n, p)[ok].sum())


# ---------------------------------------------------------------------------- soundness


@pytest.mark.parametrize("gap", [-1e-6, -0.003])
def test_just_outside_the_threshold_it_wrongly_certifies_at_most_alpha(gap: float) -> None:
    trials = 20_000
    p = THRESHOLD + gap
    smoothed = KnownVotes(np.tile(odds(p), (trials, 1)), K, seed=int(-gap * 1e6))
    certified, guess, used = smoothed.certify_radius(
        indexed_images(trials), RADIUS, ALPHA, N0, STAGES
    )
    assert np.all(guess == 0)
    share = certified.mean()
    se = math.sqrt(ALPHA * (1 - ALPHA) / trials)
    assert share <= ALPHA + 3 * se
    # the same share, and the samples it used, from the binomial law
    want, samples = exact_staged(p)
    assert want <= ALPHA
    assert abs(share - want) <= 4 * math.sqrt(want * (1 - want) / trials) + 1e-4
    assert used.mean() == pytest.approx(N0 + samples, rel=0.02)
    # images leave as soon as they are decided: each stage sees only those still undecided
    sizes = [size for size, n in smoothed.calls[1:]]
    assert sizes[0] == trials and sizes == sorted(sizes, reverse=True)


def _no_alpha_split(monkeypatch) -> None:
    """A planted fault: every stage tests at alpha, not alpha / len(stages)."""
    m = len(STAGES)
    for name in ("lower_confidence_bound", "upper_confidence_bound"):
        real = getattr(certificates, name)
        monkeypatch.setattr(
            certificates, name, lambda c, n, level, real=real: real(c, n, min(level * m, 0.5))
        )


@pytest.mark.parametrize("planted", [None, "no alpha split"])
def test_the_staged_share_matches_the_independent_reference(planted, monkeypatch) -> None:
    # just below the threshold the staged test may certify wrongly, but at most its share
    trials, p = 20_000, THRESHOLD - 1e-6
    if planted:
        _no_alpha_split(monkeypatch)
    smoothed = KnownVotes(np.tile(odds(p), (trials, 1)), K, seed=7)
    certified, _, _ = smoothed.certify_radius(indexed_images(trials), RADIUS, ALPHA, N0, STAGES)
    want, _ = exact_staged(p)
    agrees = bool(abs(certified.mean() - want) <= 4 * math.sqrt(want * (1 - want) / trials))
    assert agrees is (planted is None), (certified.mean(), want)
    se = math.sqrt(ALPHA * (1 - ALPHA) / trials)
    assert bool(certified.mean() <= ALPHA + 3 * se) is (planted is None)


# ---------------------------------------------------------------------------- power and cost


@pytest.mark.parametrize("p", [THRESHOLD + 0.002, THRESHOLD + 0.006, THRESHOLD + 0.02, 0.99])
def test_it_certifies_as_often_as_one_shot_up_to_the_split_alpha(p: float) -> None:
    trials, m = 20_000, len(STAGES)
    smoothed = KnownVotes(np.tile(odds(p), (trials, 1)), K, seed=int(p * 1e6))
    certified, _, used = smoothed.certify_radius(indexed_images(trials), RADIUS, ALPHA, N0, STAGES)
    share = certified.mean()
    se = 3 * math.sqrt(0.25 / trials)
    # one-shot as in `certify`: n0 choose, n = 10,000 bound at alpha, simulated independently
    rng = np.random.default_rng(1)
    hits = rng.binomial(STAGES[-1], p, trials)
    one = certified_radius(lower_confidence_bound(hits, STAGES[-1], ALPHA), D, K) >= RADIUS
    # provable: the last stage alone is the one-shot test at alpha/m; earlier stages lose a truly
    # certifiable image only when an upper bound at alpha/m fails, at most (m − 1) alpha/m
    split_cost = one_shot(p, STAGES[-1], ALPHA) - one_shot(p, STAGES[-1], ALPHA / m)
    assert share >= one_shot(p, STAGES[-1], ALPHA / m) - (m - 1) * ALPHA / m - se
    assert share >= one.mean() - split_cost - (m - 1) * ALPHA / m - 2 * se
    want, samples = exact_staged(p)
    assert abs(share - want) <= se
    assert used.mean() == pytest.approx(N0 + samples, rel=0.02)
    if p >= THRESHOLD + 0.02:  # a clear margin: about as often as one-shot
        assert share >= one.mean() - 0.02
    if p == 0.99:  # far from the threshold: 200 samples instead of 10,100
        assert np.all(certified) and np.all(used == N0 + STAGES[0])


def test_the_split_alpha_costs_little_power_at_ten_thousand_samples() -> None:
    # the largest drop in the chance of certifying, over p, from testing at alpha/3, not alpha
    grid = THRESHOLD + np.linspace(0.0, 0.03, 61)
    gaps = [one_shot(p, 10_000, ALPHA) - one_shot(p, 10_000, ALPHA / 3) for p in grid]
    worst = max(gaps)
    assert 0.05 < worst < 0.5  # a real but bounded cost, only within ~0.01 of the threshold
    assert gaps[-1] < 1e-3  # 0.03 above the threshold both certify (almost) always


# ---------------------------------------------------------------------------- the real sampler


class RandomVote(nn.Module):
    """A base classifier that ignores its input and votes class i with probability probs[i]."""

    def __init__(self, probs: list[float]) -> None:
        super().__init__()
        self.register_buffer("probs", torch.tensor(probs))
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        votes = torch.multinomial(self.probs.float(), len(x), replacement=True)
        return nn.functional.one_hot(votes, len(self.probs)).float() + 0 * self.dummy


def real(probs: list[float]) -> Smoothed:
    return Smoothed(RandomVote(probs), K, get_encoding("multichannel", 1), 10, device="cpu")


def test_with_the_real_sampler_clear_cases_stop_after_the_first_stage() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, 1, 28, 28)
    always_3 = [0.0] * 10
    always_3[3] = 1.0
    certified, guess, used = real(always_3).certify_radius(x, RADIUS, ALPHA, N0, STAGES)
    assert certified.tolist() == [True] * 3 and guess.tolist() == [3] * 3
    assert used.tolist() == [N0 + STAGES[0]] * 3  # 100 of 100 votes: p̲ = (alpha/3)^(1/100)
    certified, _, used = real([0.1] * 10).certify_radius(x, RADIUS, ALPHA, N0, STAGES)
    assert not certified.any() and used.tolist() == [N0 + STAGES[0]] * 3
    # far beyond any certifiable radius nothing certifies, whatever the votes
    certified, _, used = real(always_3).certify_radius(x, 100, ALPHA, N0, STAGES)
    assert not certified.any() and used.tolist() == [N0 + STAGES[0]] * 3


class KeptAny(nn.Module):
    """Votes 1 when any of `pixels` is kept, else 0: class 0 has probability 1 − Δ(len(pixels))."""

    def __init__(self, pixels: list[int]) -> None:
        super().__init__()
        self.pixels = pixels
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = x.flatten(2).sum(1)[:, self.pixels].round().sum(1) > 0  # multichannel: 1 if kept
        return nn.functional.one_hot(kept.long(), 10).float() + 0 * self.dummy


def test_with_per_image_seeds_batching_does_not_change_the_answer() -> None:
    # p_0 = 1 − Δ(5) = 0.746, just above the threshold 0.711: several stages are often needed
    base = KeptAny([0, 100, 200, 300, 400])
    assert 1 - float(delta(5, D, K)) - THRESHOLD == pytest.approx(0.035, abs=0.01)
    smoothed = Smoothed(base, K, get_encoding("multichannel", 1), 10, device="cpu")
    x = torch.rand(6, 1, 28, 28)
    together = smoothed.certify_radius(x, RADIUS, ALPHA, N0, STAGES, list(range(6)))
    assert set(together[2].tolist()) <= {N0 + 100, N0 + 1100, N0 + 11_100}
    assert len(set(together[2].tolist())) >= 2  # images stopped at different stages
    assert np.all(together[1] == 0)
    for i in range(6):
        alone = smoothed.certify_radius(x[i : i + 1], RADIUS, ALPHA, N0, STAGES, [i])
        assert [a[0] for a in alone] == [t[i] for t in together]
    probs = [0.74, 0.26] + [0.0] * 8
    with pytest.raises(ValueError):
        real(probs).certify_radius(x, RADIUS, ALPHA, N0, STAGES, [0])
    for bad in ({"stages": ()}, {"alpha": 0.0}, {"radius": -1}, {"n0": 0}):
        args = {"radius": RADIUS, "alpha": ALPHA, "n0": N0, "stages": STAGES, **bad}
        with pytest.raises(ValueError):
            real(probs).certify_radius(x, **args)
