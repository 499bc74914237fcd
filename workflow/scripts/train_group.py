"""Rule train_group_*: train several of Table 1's base classifiers together (train_many)."""

from randablate.jobs import computing_job
from randablate.training import TrainingJob, train_group_and_save

with computing_job(snakemake, "group training failed") as (p, _, log, grant):
    train_group_and_save(
        list(snakemake.output.models),
        list(p.checkpoints),
        TrainingJob(p.data, p.encoding, p.arch, p.seed, grant, p.repo),
        ks=list(p.ks),
        settings=list(p.settings),
        log=log,
        compile_step=p.compile,
    )
