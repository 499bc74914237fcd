"""Rule fpa_train: train the T submodels of one feature partition ensemble and save them."""

import torch

from randablate.jobs import job_log
from randablate.partition import train_ensemble_and_save

torch.set_num_threads(snakemake.threads)
p, wc = snakemake.params, snakemake.wildcards
with job_log(snakemake, "training the feature partition ensemble failed") as log:
    train_ensemble_and_save(
        snakemake.output.model,
        p.checkpoints,
        dataset=p.data["dataset"],
        data_dir=p.data["dir"],
        encoding_name=wc.encoding,
        arch=wc.arch,
        groups=int(wc.groups),
        order=p.order,
        training=p.training,
        base_seed=p.seed,
        lock_dir=p.lock_dir,
        repo=p.repo,
        log=log,
    )
