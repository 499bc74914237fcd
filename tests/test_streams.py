"""Counter-based streams against SplitMix64 written with Python integers, and their uniformity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from randablate.streams import Stream, Streams, as_streams, splitmix64, uniforms

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


def test_streams_hold_int64_seeds_taken_modulo_2_64() -> None:
    streams = Streams([0, 5, 2**64 + 5, 2**63, -1, np.int64(9)])
    assert streams.seeds.dtype == torch.int64
    assert streams.seeds.tolist() == [0, 5, 5, -(2**63), -1, 9]
    assert streams.starts.tolist() == [0] * 6
    with pytest.raises(TypeError, match="integers"):
        Streams([1.5])
    with pytest.raises(TypeError, match="integers"):
        Streams(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="2 starts for 1 seeds"):
        Streams([1], [0, 0])


def test_take_hands_out_consecutive_segments_and_select_copies() -> None:
    streams = Streams([3, 4, 5])
    first = streams.take(10)
    second = streams.take(7)
    assert first.starts.tolist() == [0, 0, 0]
    assert second.starts.tolist() == [10, 10, 10]
    assert streams.starts.tolist() == [17, 17, 17]
    part = streams.select([2, 0])
    assert part.seeds.tolist() == [5, 3] and part.starts.tolist() == [17, 17]
    part.take(100)  # a copy: the original does not move
    assert streams.starts.tolist() == [17, 17, 17]
    streams.advance(3, [1])
    assert streams.starts.tolist() == [17, 20, 17]
    assert streams.select(slice(1, 3)).seeds.tolist() == [4, 5]


def test_one_stream_read_in_order_never_reuses_a_sample() -> None:
    stream = Stream(99)
    a, b, c = stream.take(3, 10), stream.take(1, 64), stream.take(2, 5)
    segments = [
        (int(start), int(start) + n)
        for part, n in ((a, 10), (b, 64), (c, 5))
        for start in part.starts
    ]
    assert segments == [(0, 10), (10, 20), (20, 30), (30, 94), (94, 99), (99, 104)]
    assert set(a.seeds.tolist() + b.seeds.tolist() + c.seeds.tolist()) == {99}


def test_as_streams_takes_seeds_streams_or_none() -> None:
    torch.manual_seed(0)
    fresh = as_streams(None, 4)
    torch.manual_seed(0)
    assert torch.equal(as_streams(None, 4).seeds, fresh.seeds)  # torch's generator decides
    assert len(set(fresh.seeds.tolist())) == 4 and bool((fresh.seeds >= 0).all())
    own = Streams([1, 2])
    assert as_streams(own, 2) is own
    assert as_streams(range(3), 3).seeds.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="2 seeds for 3 images"):
        as_streams([1, 2], 3)
    with pytest.raises(TypeError, match=r"not a torch\.Generator"):
        as_streams(torch.Generator(), 1)
    with pytest.raises(TypeError, match="one seed per image"):
        as_streams(7, 1)
