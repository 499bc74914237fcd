"""Counter-based streams against SplitMix64 written with Python integers, and their uniformity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from randablate.streams import splitmix64, uniforms

MASK = (1 << 64) - 1


def reference_stream(seed: int, count: int) -> list[int]:
    """SplitMix64 as a sequential generator over unsigned Python integers."""
    state, out = seed & MASK, []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def test_published_outputs_for_seed_1234567() -> None:
    # The first outputs of SplitMix64 seeded with 1234567, as published with the algorithm's
    # reference implementations.
    expected = [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]
    got = splitmix64(1234567, torch.arange(5)).tolist()
    assert [value & MASK for value in got] == expected


@pytest.mark.parametrize("seed", [0, 1, 2**62 + 12345, (1 << 63) - 1, -5])
def test_matches_the_sequential_generator_anywhere_in_the_stream(seed: int) -> None:
    counters = torch.tensor([0, 1, 2, 999, 100_000, 3_000_000_007])
    got = [value & MASK for value in splitmix64(seed, counters).tolist()]
    stream = reference_stream(seed, 1001)
    assert got[:4] == [stream[0], stream[1], stream[2], stream[999]]
    # far counters: jump the state directly
    for counter, value in zip(counters[4:].tolist(), got[4:], strict=True):
        state = (seed + counter * 0x9E3779B97F4A7C15) & MASK
        assert value == reference_stream(state, 1)[0]


def test_broadcasts_seeds_against_counters() -> None:
    seeds = torch.tensor([[3], [7]])
    counters = torch.arange(4)
    table = splitmix64(seeds, counters)
    assert table.shape == (2, 4)
    for row, seed in enumerate((3, 7)):
        assert [v & MASK for v in table[row].tolist()] == reference_stream(seed, 4)


def test_uniforms_are_the_top_53_bits_and_uniform() -> None:
    u = uniforms(torch.tensor([11, 12]).unsqueeze(1), torch.arange(50_000))
    assert u.dtype == torch.float64
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    first = reference_stream(11, 3)
    assert u[0, :3].tolist() == [(v >> 11) * 2.0**-53 for v in first]
    for row in u.numpy():
        assert stats.kstest(row, "uniform").pvalue > 1e-3
    # two streams are uncorrelated
    assert abs(np.corrcoef(u[0].numpy(), u[1].numpy())[0, 1]) < 0.02


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_bits_on_cpu_and_cuda() -> None:
    seeds = torch.tensor([0, 42, (1 << 63) - 1, -1]).unsqueeze(1)
    counters = torch.arange(10_000)
    cpu = uniforms(seeds, counters)
    cuda = uniforms(seeds.cuda(), counters.cuda()).cpu()
    assert torch.equal(cpu, cuda)
