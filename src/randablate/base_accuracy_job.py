"""The pipeline's base_accuracy job: the base classifier's accuracy on ablated images."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from .data import load_eval_images
from .seeding import derive_seed
from .smoothing import GrantedSmoothed, base_accuracy
from .tables import write_base_accuracy


def base_accuracy_record(
    k: int, meta: Mapping[str, Any], test_accuracy: float, images: int, samples: int
) -> dict[str, Any]:
    """One model's base accuracy record: its final training epoch (`meta`) and the test's."""
    # the authors' released models (rule import_authors_checkpoint) carry no training history
    final = meta["history"][-1] if meta["history"] else {"accuracy": None, "epoch": None}
    return {
        "k": k,
        "train_accuracy": final["accuracy"],
        "train_epoch": final["epoch"],
        "train_images": meta.get("train_images"),
        "test_accuracy": test_accuracy,
        "images": images,
        "samples": samples,
    }


def base_accuracy_and_save(
    out_path: str | os.PathLike,
    model: GrantedSmoothed,
    *,
    data: Mapping[str, Any],
    encoding: str,
    arch: str,
    num_images: int | None,
    samples: int,
    seed: int,
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """Measure the base classifier of `model` on `samples` ablations of the first images.

    The first `num_images` (None: all) evaluated images of `data`, each with its ablations drawn
    from a seed derived from `seed` and the model's identity, on the device the model's grant
    gives; writes and returns the record (`tables.write_base_accuracy`).
    """
    log = log or logging.getLogger(__name__)
    images, labels, _ = load_eval_images(data, 0, num_images)
    model_seed = derive_seed(seed, "base-accuracy", data["dataset"], encoding, arch, model.k)
    with model.open(log) as (smoothed, meta):
        test = base_accuracy(smoothed, images, labels, samples, model_seed, log=log)
    record = base_accuracy_record(model.k, meta, test, len(labels), samples)
    write_base_accuracy(out_path, record)
    log.info("%s", record)
    return record
