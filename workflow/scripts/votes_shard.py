"""Rule votes_shard: count the base classifier's votes on one shard of the evaluated images."""

from pathlib import Path

import torch

from randablate.data import load_eval_images
from randablate.devices import acquire_device
from randablate.files import discard_if_older
from randablate.jobs import job_log
from randablate.seeding import vote_seed
from randablate.smoothing import count_votes, load_smoothed

wc = snakemake.wildcards
k = int(wc.k)
torch.set_num_threads(snakemake.threads)


def main():
    start, stop = snakemake.params.positions
    settings = snakemake.params.settings
    partial = Path(snakemake.params.checkpoint)
    if discard_if_older(partial, snakemake.input.model):
        log.info("removed %s: it predates the model", partial)
    images, labels, indices = load_eval_images(snakemake.params.data, start, stop)
    # the sampling scheme's run: "standard", or "lee" (Table 7) with streams of its own
    run = snakemake.params.run
    seed = vote_seed(snakemake.params.seed, run, wc.dataset, wc.encoding, wc.arch, k)
    log.info("k=%d images %d..%d stages=%s run=%s", k, start, stop - 1, settings["stages"], run)
    with acquire_device(
        snakemake.params.lock_dir, log=log, jobs_per_gpu=snakemake.params.jobs_per_gpu
    ) as device:
        smoothed, _ = load_smoothed(
            snakemake.input.model,
            k,
            batch_size=settings["batch_size"],
            precision=settings["precision"],
            device=device,
            # read from the config, not params: compiling must not invalidate finished shards
            compile=snakemake.config["compute"]["votes"]["compile"],
        )
        count_votes(
            smoothed,
            images,
            labels,
            indices,
            settings["stages"],
            seed,
            snakemake.output.votes,
            partial,
            log,
            # read from the config, not params: changing it must not invalidate finished shards
            checkpoint_seconds=snakemake.config["compute"]["votes"]["checkpoint_seconds"],
        )


with job_log(snakemake, "vote counting failed") as log:
    main()
