"""Foolbox 2's starting point: its SaltAndPepperNoiseAttack, as the authors' attack began.

Foolbox 2's PointwiseAttack starts from Foolbox 2's SaltAndPepperNoiseAttack at its defaults:
`init_repetitions` sweeps over `init_epsilons` noise levels, a candidate queried only when it
changes fewer pixels than the best so far, the start with the fewest changed pixels kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

NOISE_BLOCK_ELEMENTS = 2**20  # values of the Foolbox 2 starting-point candidates made at once


def l0_pixels(x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
    """Number of pixels (positions, any channel) where x_adv differs from x; shape (N,)."""
    if x.shape != x_adv.shape or x.ndim != 4:
        raise ValueError(
            f"need two (N, C, H, W) tensors of one shape, got {x.shape}, {x_adv.shape}"
        )
    return (x != x_adv).any(dim=1).flatten(1).sum(dim=1)


def foolbox2_salt_and_pepper(
    is_adversarial: Callable[[torch.Tensor], bool],
    x: torch.Tensor,
    epsilons: int,
    repetitions: int,
    rng: np.random.Generator,
) -> torch.Tensor | None:
    """Starting point as Foolbox 2's SaltAndPepperNoiseAttack made it; None if none is found.

    `repetitions` sweeps of the noise level p over `epsilons` even steps in (0, max_p]: each
    candidate sets a share p of the pixels (the same in every channel) to 0 or 1 at random, and
    is queried only if it changes fewer pixels than the best adversarial so far. The first
    adversarial candidate of a sweep becomes the best and ends the sweep, and max_p becomes
    min(1, 1.2 p). Returns the adversarial candidate with the fewest changed pixels.
    """
    _, channels, h, w = x.shape
    # Candidates are made a block at a time from one draw of their uniforms (the same numbers as
    # one draw per candidate); where a sweep ends inside a block, the generator is rewound to just
    # after the candidate that ended it, as if the block's rest had never been drawn.
    block = max(1, NOISE_BLOCK_ELEMENTS // (channels * h * w))
    best, best_l0, max_p = None, math.inf, 1.0
    for _ in range(repetitions):
        levels = np.linspace(0.0, max_p, num=min(epsilons, h * w) + 1)[1:]
        for first in range(0, len(levels), block):
            ps = levels[first : first + block]
            state = rng.bit_generator.state
            u = torch.from_numpy(rng.uniform(size=(len(ps), 1, h, w)))
            p = torch.from_numpy(ps).view(-1, 1, 1, 1)
            candidates = torch.where(u >= 1 - p / 2, 1.0, torch.where(u < p / 2, 0.0, x))
            candidates = candidates.to(x.dtype)
            l0s = l0_pixels(x.expand_as(candidates), candidates).tolist()
            found = None
            for i, l0 in enumerate(l0s):
                if l0 < best_l0 and is_adversarial(candidates[i : i + 1]):
                    found = i
                    break
            if found is not None:
                best, best_l0 = candidates[found : found + 1].clone(), l0s[found]
                max_p = min(1.0, ps[found] * 1.2)
                rng.bit_generator.state = state
                rng.uniform(size=(found + 1, 1, h, w))
                break
    return best
