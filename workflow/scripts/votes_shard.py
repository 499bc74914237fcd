"""Rule votes_shard: count the base classifier's votes on one shard of the test set."""

import logging
from pathlib import Path

import numpy as np
import torch

from randablate.data import load_mnist
from randablate.devices import acquire_device
from randablate.encoding import get_encoding
from randablate.models import load_model
from randablate.seeding import derive_seed
from randablate.smoothing import Smoothed, count_votes

logging.basicConfig(
    filename=snakemake.log[0], filemode="w", level=logging.INFO, format="%(asctime)s %(message)s"
)
log = logging.getLogger("votes")
wc = snakemake.wildcards
k = int(wc.k)
torch.set_num_threads(snakemake.threads)


def main():
    start, stop = snakemake.params.positions
    partial = Path(snakemake.params.checkpoint)
    if partial.exists() and partial.stat().st_mtime < Path(snakemake.input.model).stat().st_mtime:
        log.info("removing %s: it predates the model", partial)
        partial.unlink()
    images, labels = load_mnist(snakemake.params.data_dir, "test")
    model, meta = load_model(snakemake.input.model)
    if meta["k"] != k:
        raise ValueError(f"{snakemake.input.model} was trained with k={meta['k']}, not {k}")
    encoding = get_encoding(meta["encoding"], channels=meta["channels"], mean=meta.get("mean"))
    seed = derive_seed(snakemake.params.seed, "votes", wc.dataset, wc.encoding, wc.arch, k)
    log.info("k=%d images %d..%d stages=%s", k, start, stop - 1, snakemake.params.stages)
    with acquire_device(snakemake.params.lock_dir, log=log) as device:
        smoothed = Smoothed(
            model,
            k,
            encoding,
            meta["num_classes"],
            batch_size=snakemake.params.batch_size,
            precision=snakemake.params.precision,
            device=device,
        )
        count_votes(
            smoothed,
            images[start:stop],
            labels[start:stop],
            np.arange(start, stop),
            snakemake.params.stages,
            seed,
            snakemake.output.votes,
            partial,
            log,
            # read from the config, not params: changing it must not invalidate finished shards
            checkpoint_seconds=snakemake.config["compute"]["votes"]["checkpoint_seconds"],
        )


try:
    main()
except Exception:
    log.exception("vote counting failed")
    raise
