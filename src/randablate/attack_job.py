"""The pipeline's attack_shard job: one shard of images attacked, on a granted device, resumably."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .attack import AttackSettings, attack_images
from .data import load_eval_images
from .devices import acquire_device
from .files import discard_if_older
from .smoothing import load_smoothed


def attack_shard_and_save(
    out_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike,
    *,
    model_path: str | os.PathLike,
    k: int,
    data: Mapping[str, Any],
    positions: tuple[int, int],
    settings: Mapping[str, Any],
    batch_size: int,
    precision: str,
    seed: int,
    lock_dir: str | os.PathLike,
    jobs_per_gpu: int = 1,
    log: logging.Logger | None = None,
) -> None:
    """Attack the evaluated images [start, stop) of `data` and save the shard (`attack_images`).

    The smoothed classifier of `model_path` at `k` runs on the device `acquire_device` grants
    under `lock_dir` (`jobs_per_gpu` jobs a GPU); `settings` are `AttackSettings`' fields. A
    checkpoint older than the model is discarded; a newer one is resumed.
    """
    log = log or logging.getLogger(__name__)
    logging.getLogger("git").setLevel(logging.WARNING)  # Foolbox's GitPython: not used
    start, stop = positions
    checkpoint = Path(checkpoint_path)
    if discard_if_older(checkpoint, model_path):
        log.info("removed %s: it predates the model", checkpoint)
    images, labels, indices = load_eval_images(data, start, stop)
    attack_settings = AttackSettings(**settings)
    log.info("k=%d images %d..%d settings=%s", k, start, stop - 1, attack_settings)
    with acquire_device(lock_dir, log=log, jobs_per_gpu=jobs_per_gpu) as device:
        smoothed, _ = load_smoothed(
            model_path, k, batch_size=batch_size, precision=precision, device=device
        )
        attack_images(
            smoothed, images, labels, indices, attack_settings, seed, out_path, checkpoint, log
        )
