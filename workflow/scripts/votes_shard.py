"""Rule votes_shard: count the base classifier's votes on one shard of the evaluated images."""

import torch

from randablate.jobs import job_log
from randablate.votes import votes_job

torch.set_num_threads(snakemake.threads)
p, wc = snakemake.params, snakemake.wildcards
with job_log(snakemake, "vote counting failed") as log:
    votes_job(
        snakemake.output.votes,
        p.checkpoint,
        model_path=snakemake.input.model,
        data=p.data,
        positions=p.positions,
        settings=p.settings,
        base_seed=p.seed,
        # the sampling scheme's run: "standard", or "lee" (Table 7) with streams of its own
        run=p.run,
        dataset=wc.dataset,
        encoding=wc.encoding,
        arch=wc.arch,
        k=int(wc.k),
        lock_dir=p.lock_dir,
        jobs_per_gpu=p.jobs_per_gpu,
        # read from the config, not params: neither may invalidate finished shards
        compile=snakemake.config["compute"]["votes"]["compile"],
        checkpoint_seconds=snakemake.config["compute"]["votes"]["checkpoint_seconds"],
        log=log,
    )
