"""Rule train: train one base classifier on randomly ablated training images."""

from randablate.jobs import computing_job
from randablate.training import TrainingJob, train_and_save

with computing_job(snakemake, "training failed") as (p, wc, log, grant):
    train_and_save(
        snakemake.output.model,
        p.checkpoint,
        TrainingJob(p.data, wc.encoding, wc.arch, p.seed, grant, p.repo),
        k=int(wc.k),
        settings=p.settings,
        log=log,
        compile_step=p.compile,
    )
