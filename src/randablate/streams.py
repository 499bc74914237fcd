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

import torch

_GAMMA = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_DOUBLE_UNIT = 2.0**-53


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
