"""The random draws of training, from counter-based streams on the training device.

Epoch e of a model with seed s draws from three streams (randablate.streams), each number a hash
of (stream seed, counter), computed where the model trains:
- shuffle: derive_seed(s, "train-shuffle", e); image i's key is uniform i, and the epoch visits
  the images in increasing key order (ties, which need equal 53-bit numbers, by index);
- keep-sets: derive_seed(s, "train-ablation", e); minibatch b's shared keep-set is
  `keep_masks_from_uniforms` of the uniforms b*m .. b*m + m - 1, with m = min(k, d - k);
- crop-flip: derive_seed(s, "train-augment", e); the image at position p of the epoch takes the
  uniforms 3p, 3p + 1, 3p + 2 as its row offset, column offset (each floor(u * (2 * padding + 1)))
  and flip (u < 1/2).

Every draw is a vectorised hash (`randablate.streams`), so any minibatch's draws are computed
where the model trains, in any order, with the same bits on the CPU and on CUDA.
"""

from __future__ import annotations

import torch
from torch import nn

from .ablation import keep_masks_from_uniforms
from .seeding import derive_seed
from .streams import uniforms


def crop_flip(
    x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, padding: int = 4
) -> torch.Tensor:
    """Crop each image (N, C, H, W) at `offsets` (N, 2) of its zero-padded self; flip some."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (padding, padding, padding, padding))
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (N, H)
    cols = torch.arange(w, device=x.device).expand(n, w)
    cols = offsets[:, 1:] + torch.where(flips.unsqueeze(1), cols.flip(1), cols)  # (N, W)
    index = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return padded[index, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def epoch_seeds(seed: int, epoch: int) -> dict[str, int]:
    """The seeds of the shuffle, keep-set and crop-flip streams of one (1-based) epoch."""
    return {
        name: derive_seed(seed, f"train-{name}", epoch)
        for name in ("shuffle", "ablation", "augment")
    }


def epoch_orders(seeds: torch.Tensor, n: int) -> torch.Tensor:
    """The order (M, n) in which each of M models (int64 stream seeds (M,)) visits n images."""
    keys = uniforms(seeds.unsqueeze(1), torch.arange(n, device=seeds.device))
    return torch.argsort(keys, dim=1, stable=True)


def keep_uniforms(
    seeds: torch.Tensor, batches: torch.Tensor, ms: torch.Tensor, width: int
) -> torch.Tensor:
    """Float64 uniforms (M, B, width): [r, b] starts with minibatch batches[b]'s ms[r] draws."""
    counters = batches.view(1, -1, 1) * ms.view(-1, 1, 1)
    return uniforms(seeds.view(-1, 1, 1), counters + torch.arange(width, device=seeds.device))


class EpochKeepSets:
    """The shared keep-set of each of M models for every minibatch of an epoch.

    Drawn `chunk` minibatches at a time (a few dozen kernels for all of them, not for each
    minibatch): `keep_sets[b]` is (M, d), row r the keep-set of model r (stream seeds[r], k
    ks[r]) in minibatch b.
    """

    def __init__(self, seeds: torch.Tensor, ks: list[int], d: int, chunk: int = 64) -> None:
        self.seeds, self.ks, self.d, self.chunk = seeds, ks, d, chunk
        self.ms = torch.tensor([min(k, d - k) for k in ks], device=seeds.device)
        self.width = max(min(k, d - k) for k in ks)
        self.ks_tensor = torch.tensor(ks, device=seeds.device)
        self.first, self.masks = -chunk, torch.empty(0)  # no minibatch drawn yet

    def __getitem__(self, batch_index: int) -> torch.Tensor:
        if not self.first <= batch_index < self.first + self.chunk:
            self.first = batch_index - batch_index % self.chunk
            batches = torch.arange(self.first, self.first + self.chunk, device=self.seeds.device)
            u = keep_uniforms(self.seeds, batches, self.ms, self.width)  # (M, chunk, width)
            rows, d = len(self.ks), self.d
            if len(set(self.ks)) == 1:
                masks = keep_masks_from_uniforms(u.flatten(0, 1), d, self.ks[0])
            else:
                ks = self.ks_tensor.repeat_interleave(self.chunk)
                masks = keep_masks_ragged(u.flatten(0, 1), d, ks)
            self.masks = masks.view(rows, self.chunk, d)
        return self.masks[:, batch_index - self.first]


def keep_masks_ragged(u: torch.Tensor, d: int, ks: torch.Tensor) -> torch.Tensor:
    """`keep_masks_from_uniforms` row by row with a k per row: (M, width) uniforms, (M,) ks."""
    ms = torch.minimum(ks, d - ks)
    rows = len(u)
    chosen = torch.zeros(rows, d + 1, dtype=torch.bool, device=u.device)  # column d: unused
    dummy = torch.full((rows,), d, dtype=torch.long, device=u.device)
    for i in range(u.shape[1]):
        j = d - ms + i
        t = torch.minimum((u[:, i] * (j + 1)).long(), j).clamp_(max=d)
        taken = chosen.gather(1, t.unsqueeze(1)).squeeze(1)
        pick = torch.where(taken, j, t)
        chosen.scatter_(1, torch.where(i < ms, pick, dummy).unsqueeze(1), True)
    chosen = chosen[:, :d]
    return torch.where((ms == ks).unsqueeze(1), chosen, ~chosen)


def crop_flip_draws(
    seeds: torch.Tensor, positions: torch.Tensor, padding: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets (M, B, 2) and flips (M, B) of the images at `positions` (B,) of M models' epochs."""
    counters = 3 * positions.unsqueeze(1) + torch.arange(3, device=positions.device)  # (B, 3)
    u = uniforms(seeds.view(-1, 1, 1), counters)  # (M, B, 3)
    offsets = (u[..., :2] * (2 * padding + 1)).long().clamp_(max=2 * padding)
    return offsets, u[..., 2] < 0.5
