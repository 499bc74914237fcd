"""The pipeline's votes job: count one shard's votes of one model under one sampling scheme."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .certification import SamplingScheme
from .data import load_eval_images
from .devices import DeviceGrant
from .seeding import vote_seed
from .smoothing import GrantedSmoothed, count_votes


def votes_job(
    out_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike,
    *,
    model_path: str | os.PathLike,
    data: Mapping[str, Any],
    positions: tuple[int, int],
    settings: Mapping[str, Any],
    base_seed: int,
    run: str,
    dataset: str,
    encoding: str,
    arch: str,
    k: int,
    grant: DeviceGrant,
    compile: bool = False,
    checkpoint_seconds: float = 60.0,
    log: logging.Logger | None = None,
) -> None:
    """Count the votes of the evaluated images at `positions` [start, stop) as the pipeline does.

    `settings` holds the scheme's "stages" (name -> samples), its "predict_from" (the stage that
    predicts, None: none; absent: the stages name none) and the "batch_size" and "precision" of
    the counting. The seed is `vote_seed` of `base_seed`, the scheme's `run` and the model's
    identity; the counting runs on the device `grant` gives (`GrantedSmoothed`), and resumes
    from `checkpoint_path` unless the checkpoint predates the model.
    """
    log = log or logging.getLogger(__name__)
    start, stop = positions
    partial = Path(checkpoint_path)
    model = GrantedSmoothed(
        model_path, k, settings["batch_size"], settings["precision"], grant, compile
    )
    model.discard_stale(partial, log)
    images, labels, indices = load_eval_images(data, start, stop)
    scheme = SamplingScheme(settings["stages"], settings.get("predict_from"))
    seed = vote_seed(base_seed, run, dataset, encoding, arch, k)
    log.info("k=%d images %d..%d scheme=%s run=%s", k, start, stop - 1, scheme.describe(), run)
    with model.open(log) as (smoothed, _):
        count_votes(
            smoothed,
            images,
            labels,
            indices,
            scheme,
            seed,
            out_path,
            partial,
            log,
            checkpoint_seconds=checkpoint_seconds,
        )
