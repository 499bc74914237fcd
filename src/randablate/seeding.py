"""Seeds derived from the configuration and an item's identity, so reruns draw the same numbers."""

from __future__ import annotations

import hashlib

import torch


def derive_seed(*parts: object) -> int:
    """Return a 63-bit seed fixed by the string forms of `parts` (base seed, stage, index...)."""
    text = "\x1f".join(str(part) for part in parts)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """Return a torch.Generator on `device` seeded with `seed`."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


# Vote-counting runs: each draws its own streams, so none is a prefix of another's.
VOTE_RUNS = {"standard": "votes", "lee": "votes-lee"}


def vote_seed(base_seed: int, run: str, dataset: str, encoding: str, arch: str, k: int) -> int:
    """Return the seed of one model's vote counting in `run` (standard or Lee et al.'s, Table 7)."""
    try:
        label = VOTE_RUNS[run]
    except KeyError:
        raise ValueError(
            f"unknown vote-counting run {run!r}; expected one of {', '.join(VOTE_RUNS)}"
        ) from None
    return derive_seed(base_seed, label, dataset, encoding, arch, k)
