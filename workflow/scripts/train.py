"""Rule train: train one base classifier on randomly ablated training images."""

import torch

from randablate.jobs import job_log
from randablate.training import train_and_save

torch.set_num_threads(snakemake.threads)
p, wc = snakemake.params, snakemake.wildcards
with job_log(snakemake, "training failed") as log:
    train_and_save(
        snakemake.output.model,
        p.checkpoint,
        dataset=p.data["dataset"],
        data_dir=p.data["dir"],
        encoding_name=wc.encoding,
        arch=wc.arch,
        k=int(wc.k),
        settings=p.settings,
        base_seed=p.seed,
        lock_dir=p.lock_dir,
        jobs_per_gpu=p.jobs_per_gpu,
        repo=p.repo,
        log=log,
        compile_step=p.compile,
    )
