"""Rule train_group_*: train several of Table 1's base classifiers together (train_many)."""

import torch

from randablate.jobs import job_log
from randablate.training import train_group_and_save

torch.set_num_threads(snakemake.threads)
p = snakemake.params
with job_log(snakemake, "group training failed") as log:
    train_group_and_save(
        list(snakemake.output.models),
        list(p.checkpoints),
        dataset=p.data["dataset"],
        data_dir=p.data["dir"],
        encoding_name=p.encoding,
        arch=p.arch,
        ks=list(p.ks),
        settings=list(p.settings),
        base_seed=p.seed,
        lock_dir=p.lock_dir,
        jobs_per_gpu=p.jobs_per_gpu,
        repo=p.repo,
        log=log,
        compile_step=p.compile,
    )
