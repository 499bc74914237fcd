"""Rule attack_shard: the Pointwise attack on the smoothed classifier, for one shard of images."""

import torch

from randablate.attack_job import attack_shard_and_save
from randablate.jobs import job_log

torch.set_num_threads(snakemake.threads)
p = snakemake.params
with job_log(snakemake, "attack failed") as log:
    # the first attack.num_images (smoothed classifier: attack.smoothed_images) of the images
    # Table 1 certifies
    attack_shard_and_save(
        snakemake.output.attack,
        p.checkpoint,
        model_path=snakemake.input.model,
        k=int(snakemake.wildcards.k),
        data=p.data,
        positions=p.positions,
        settings=p.settings,
        batch_size=p.batch_size,
        precision=p.precision,
        seed=p.seed,
        lock_dir=p.lock_dir,
        jobs_per_gpu=p.jobs_per_gpu,
        log=log,
    )
