"""Rule base_accuracy: the base classifier's accuracy on ablated training and test images."""

import torch

from randablate.base_accuracy_job import base_accuracy_and_save
from randablate.jobs import job_log

torch.set_num_threads(snakemake.threads)
p, wc = snakemake.params, snakemake.wildcards
with job_log(snakemake, "measuring the base classifier failed") as log:
    base_accuracy_and_save(
        snakemake.output.accuracy,
        model_path=snakemake.input.model,
        data=p.data,
        encoding=wc.encoding,
        arch=wc.arch,
        k=int(wc.k),
        num_images=p.num_images,
        samples=p.samples,
        batch_size=p.batch_size,
        precision=p.precision,
        seed=p.seed,
        lock_dir=p.lock_dir,
        jobs_per_gpu=p.jobs_per_gpu,
        log=log,
    )
