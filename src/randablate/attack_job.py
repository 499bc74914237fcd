"""The pipeline's attack_shard job: one shard of images attacked, on a granted device, resumably."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .attack import AttackSettings, attack_images
from .data import load_eval_images
from .smoothing import GrantedSmoothed


def attack_shard_and_save(
    out_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike,
    model: GrantedSmoothed,
    *,
    data: Mapping[str, Any],
    positions: tuple[int, int],
    settings: Mapping[str, Any],
    seed: int,
    log: logging.Logger | None = None,
) -> None:
    """Attack the evaluated images [start, stop) of `data` and save the shard (`attack_images`).

    The smoothed classifier `model` runs on the device its grant gives; `settings` are
    `AttackSettings`' fields. A checkpoint older than the model is discarded; a newer one is
    resumed.
    """
    log = log or logging.getLogger(__name__)
    logging.getLogger("git").setLevel(logging.WARNING)  # Foolbox's GitPython: not used
    start, stop = positions
    checkpoint = Path(checkpoint_path)
    model.discard_stale(checkpoint, log)
    images, labels, indices = load_eval_images(data, start, stop)
    attack_settings = AttackSettings(**settings)
    log.info("k=%d images %d..%d settings=%s", model.k, start, stop - 1, attack_settings)
    with model.open(log) as (smoothed, _):
        attack_images(
            smoothed, images, labels, indices, attack_settings, seed, out_path, checkpoint, log
        )
