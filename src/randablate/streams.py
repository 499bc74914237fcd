"""Counter-based random streams: each number is a hash of (seed, counter), the same on any device.

A `torch.Generator` is a sequential stream that lives on one device: drawing one per image on the
CPU and copying the draws to a GPU puts the host in the loop. Here the c-th number of the stream
`seed` is SplitMix64's output for the state seed + (c + 1) * 0x9E3779B97F4A7C15 (Steele, Lea and
Flood, OOPSLA 2014), computed with integer tensor ops on whatever device holds the tensors. Any
slice of any stream is drawn in one vectorised call, in any order and any batching, and the same
(seed, counter) gives the same bits on the CPU and on CUDA.

torch's int64 arithmetic wraps modulo 2**64 (two's complement), which is the unsigned arithmetic
SplitMix64 needs; right shifts are made logical by masking the sign bits that `>>` copies.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch

_GAMMA = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_DOUBLE_UNIT = 2.0**-53
_SEED_LIMIT = 2**63 - 1


def _signed(value: int) -> int:
    """The int64 whose two's-complement bits are the unsigned 64-bit `value`."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 `x` by 0 < bits < 64."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def splitmix64(seed: torch.Tensor | int, counter: torch.Tensor | int) -> torch.Tensor:
    """The `counter`-th output (int64 bits) of the SplitMix64 stream `seed`; broadcasts."""
    seed = torch.as_tensor(seed, dtype=torch.int64)
    counter = torch.as_tensor(counter, dtype=torch.int64, device=seed.device)
    x = seed + (counter + 1) * _signed(_GAMMA)
    x = (x ^ _shift_right(x, 30)) * _signed(_MUL1)
    x = (x ^ _shift_right(x, 27)) * _signed(_MUL2)
    return x ^ _shift_right(x, 31)


def uniforms(seed: torch.Tensor | int, counter: torch.Tensor | int) -> torch.Tensor:
    """Float64 uniforms in [0, 1) from the top 53 bits of `splitmix64(seed, counter)`."""
    return _shift_right(splitmix64(seed, counter), 11).to(torch.float64) * _DOUBLE_UNIT


def _as_seed_tensor(seeds: object) -> torch.Tensor:
    """Seeds (ints of any size, taken modulo 2**64) as a 1-D int64 tensor on the CPU."""
    if isinstance(seeds, torch.Tensor):
        if seeds.is_floating_point() or seeds.is_complex() or seeds.dtype == torch.bool:
            raise TypeError(f"seeds must be integers, got a tensor of {seeds.dtype}")
        return seeds.detach().to("cpu", torch.int64).reshape(-1)
    values = []
    for seed in seeds:  # type: ignore[attr-defined]
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seeds must be integers, got {seed!r}")
        values.append(_signed(int(seed) % (1 << 64)))
    return torch.tensor(values, dtype=torch.int64)


class Streams:
    """The keep-set streams of a batch of images: each image's seed and its next sample index.

    Sample j of stream `seed` is drawn from the counters j * m .. j * m + m - 1 (m uniforms a
    keep-set), so a stream's samples are disjoint segments of one SplitMix64 sequence. `take(n)`
    hands out the next n samples of every image and moves past them, like a generator.
    """

    def __init__(self, seeds: Sequence[int] | torch.Tensor, starts: object = None) -> None:
        self.seeds = _as_seed_tensor(seeds)
        if starts is None:
            self.starts = torch.zeros_like(self.seeds)
        else:
            self.starts = torch.as_tensor(starts, dtype=torch.int64).to("cpu").reshape(-1).clone()
            if self.starts.shape != self.seeds.shape:
                raise ValueError(f"got {len(self.starts)} starts for {len(self.seeds)} seeds")
            if bool((self.starts < 0).any()):
                raise ValueError("stream starts must be >= 0")

    @classmethod
    def fresh(cls, num: int) -> Streams:
        """`num` streams with random seeds drawn from torch's default generator."""
        return cls(torch.randint(0, _SEED_LIMIT, (num,), dtype=torch.int64))

    def __len__(self) -> int:
        return len(self.seeds)

    def __repr__(self) -> str:
        return f"Streams({self.seeds.tolist()}, starts={self.starts.tolist()})"

    def select(self, index: Sequence[int] | np.ndarray | torch.Tensor | slice) -> Streams:
        """A copy of the streams of the images at `index` (advancing it leaves these alone)."""
        if not isinstance(index, slice):
            index = torch.as_tensor(np.asarray(index), dtype=torch.int64)
        return Streams(self.seeds[index], self.starts[index])

    def advance(self, n: int, index: Sequence[int] | np.ndarray | None = None) -> None:
        """Move the streams at `index` (all when None) past n samples."""
        if index is None:
            self.starts += int(n)
        else:
            self.starts[torch.as_tensor(np.asarray(index), dtype=torch.int64)] += int(n)

    def take(self, n: int) -> Streams:
        """The next n samples of every stream (a copy), moving these streams past them."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        segment = Streams(self.seeds, self.starts)
        self.advance(n)
        return segment


class Stream:
    """One seed's stream read in order: each `take` hands out samples no earlier take used."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = int(Streams.fresh(1).seeds[0]) if seed is None else int(seed)
        self.position = 0

    def take(self, num: int, n: int) -> Streams:
        """Streams for `num` images of n samples each: the next num * n samples, in order."""
        starts = self.position + n * torch.arange(num, dtype=torch.int64)
        self.position += num * n
        return Streams([self.seed] * num, starts)


SeedsArg = Streams | Sequence[int] | np.ndarray | torch.Tensor | None


def as_streams(seeds: SeedsArg, num: int) -> Streams:
    """`num` images' streams from `seeds`: None (fresh random seeds), Streams, or one int each.

    A Streams object is returned as it is (so taking from it advances the caller's); integer
    seeds start at sample 0.
    """
    if seeds is None:
        return Streams.fresh(num)
    if isinstance(seeds, torch.Generator):
        raise TypeError(
            "keep-sets are drawn from counter-based streams, not a torch.Generator: pass one "
            "integer seed per image (e.g. derive_seed(seed, stage, index)) or a Streams"
        )
    if isinstance(seeds, numbers.Integral):
        raise TypeError(f"pass one seed per image ({num}), not a single integer {seeds!r}")
    streams = seeds if isinstance(seeds, Streams) else Streams(seeds)
    if len(streams) != num:
        raise ValueError(f"got {len(streams)} seeds for {num} images")
    return streams
