"""Rule attack_shard: the Pointwise attack on the smoothed classifier, for one shard of images."""

import logging
from pathlib import Path

import torch

from randablate.attack import AttackSettings, attack_images
from randablate.data import load_eval_images
from randablate.devices import acquire_device
from randablate.files import discard_if_older
from randablate.jobs import job_log
from randablate.smoothing import load_smoothed

logging.getLogger("git").setLevel(logging.WARNING)
wc = snakemake.wildcards
k = int(wc.k)
torch.set_num_threads(snakemake.threads)


def main():
    start, stop = snakemake.params.positions
    partial = Path(snakemake.params.checkpoint)
    if discard_if_older(partial, snakemake.input.model):
        log.info("removed %s: it predates the model", partial)
    # the first attack.num_images (smoothed classifier: attack.smoothed_images) of the images
    # Table 1 certifies
    images, labels, indices = load_eval_images(snakemake.params.data, start, stop)
    settings = AttackSettings(**snakemake.params.settings)
    log.info("k=%d images %d..%d settings=%s", k, start, stop - 1, settings)
    with acquire_device(
        snakemake.params.lock_dir, log=log, jobs_per_gpu=snakemake.params.jobs_per_gpu
    ) as device:
        smoothed, _ = load_smoothed(
            snakemake.input.model,
            k,
            batch_size=snakemake.params.batch_size,
            precision=snakemake.params.precision,
            device=device,
        )
        attack_images(
            smoothed,
            images,
            labels,
            indices,
            settings,
            snakemake.params.seed,
            snakemake.output.attack,
            partial,
            log,
        )


with job_log(snakemake, "attack failed") as log:
    main()
