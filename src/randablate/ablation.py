"""Random ablation: which k of the d pixels an ablated sample keeps.

Keep-sets are exact uniform draws from the k-subsets of [d] (the paper's U(d, k)), made with
Floyd's algorithm vectorised over rows: one Python step per kept pixel, none per image or sample.
Its uniforms come either from a `torch.Generator` (training's shared keep-sets) or from
counter-based streams (`keep_masks_from_streams`, vote counting), drawn on the device itself.
"""

from __future__ import annotations

import torch

from .streams import uniforms


def _check(d: int, k: int) -> None:
    if not 0 <= k <= d:
        raise ValueError(f"need 0 <= k <= d, got k={k}, d={d}")


def draw_uniforms(
    num: int, d: int, k: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw the float64 uniforms that `keep_masks_from_uniforms` turns into `num` keep-sets."""
    _check(d, k)
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(num, min(k, d - k), generator=generator, dtype=torch.float64, device=device)


def _floyd(u: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Floyd's algorithm on uniforms (num, m): the chosen mask (num, d) and the picks (num, m).

    For j = d-m .. d-1 pick t uniform in [0, j]; add t, or j if t is already chosen: the m picks
    are a uniform m-subset of [d], all different.
    """
    num, m = u.shape
    top = torch.arange(d - m, d, dtype=torch.int64, device=u.device)
    t = torch.minimum((u * (top + 1)).long(), top)
    chosen = torch.zeros(num, d, dtype=torch.bool, device=u.device)
    picks = torch.empty(num, m, dtype=torch.int64, device=u.device)
    for i in range(m):
        step = t[:, i : i + 1]
        pick = torch.where(chosen.gather(1, step), top[i], step)
        chosen.scatter_(1, pick, True)
        picks[:, i : i + 1] = pick
    return chosen, picks


def _check_draws(u: torch.Tensor, d: int, k: int) -> None:
    _check(d, k)
    if u.shape[1] != min(k, d - k):
        raise ValueError(
            f"expected {min(k, d - k)} uniforms per row for k={k}, d={d}, got {u.shape[1]}"
        )


def keep_masks_from_uniforms(u: torch.Tensor, d: int, k: int) -> torch.Tensor:
    """Turn uniforms of shape (num, min(k, d-k)) into boolean keep masks of shape (num, d)."""
    _check_draws(u, d, k)
    # For k > d/2 we choose the d-k ablated pixels instead, which is the same distribution.
    chosen, _ = _floyd(u, d)
    return chosen if u.shape[1] == k else ~chosen


def _stream_uniforms(seeds: torch.Tensor, samples: torch.Tensor, d: int, k: int) -> torch.Tensor:
    """The uniforms (num, m) of sample `samples[r]` of stream `seeds[r]`, m = min(k, d - k)."""
    _check(d, k)
    m = min(k, d - k)
    draws = torch.arange(m, dtype=torch.int64, device=seeds.device)
    return uniforms(seeds.unsqueeze(1), samples.unsqueeze(1) * m + draws)


def keep_masks_from_streams(
    seeds: torch.Tensor, samples: torch.Tensor, d: int, k: int
) -> torch.Tensor:
    """Keep masks (num, d) of sample `samples[r]` of stream `seeds[r]`, on the tensors' device.

    Sample j of a stream uses its uniforms j * m .. j * m + m - 1, m = min(k, d - k), so each
    row depends only on its (seed, sample) pair: not on the batch, the order or the device.
    """
    return keep_masks_from_uniforms(_stream_uniforms(seeds, samples, d, k), d, k)


def kept_pixels_from_streams(
    seeds: torch.Tensor, samples: torch.Tensor, d: int, k: int
) -> torch.Tensor:
    """The k kept pixels (num, k) of the keep-sets `keep_masks_from_streams` draws; k <= d / 2.

    Where k <= d - k Floyd's picks are the kept pixels themselves: the same keep-sets, as
    indices (in the order drawn), which lets an ablated image be written without a mask.
    """
    if not 0 <= k <= d - k:
        raise ValueError(f"kept pixels are drawn for 0 <= k <= d/2, got k={k}, d={d}")
    return _floyd(_stream_uniforms(seeds, samples, d, k), d)[1]


def keep_masks(
    num: int,
    d: int,
    k: int,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Draw `num` independent uniform k-of-d keep-sets as a (num, d) boolean mask."""
    u = draw_uniforms(num, d, k, generator)
    if device is not None:
        u = u.to(device)
    return keep_masks_from_uniforms(u, d, k)


def shared_keep_mask(
    batch: int,
    d: int,
    k: int,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Draw one keep-set and share it across a minibatch of `batch` images, as in training."""
    return keep_masks(1, d, k, generator, device).expand(batch, d)
