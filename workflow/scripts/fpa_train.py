"""Rule fpa_train: train the T submodels of one feature partition ensemble and save them."""

from randablate.jobs import computing_job
from randablate.partition import train_ensemble_and_save
from randablate.training import TrainingJob

with computing_job(snakemake, "training the feature partition ensemble failed") as job:
    p, wc = job.params, job.wildcards
    train_ensemble_and_save(
        snakemake.output.model,
        p.checkpoints,
        TrainingJob(p.data, wc.encoding, wc.arch, p.seed, job.grant, p.repo),
        groups=int(wc.groups),
        order=p.order,
        training=p.training,
        log=job.log,
    )
