"""Rule cifar10: check (or let torchvision download) CIFAR-10 into <data_dir>/cifar10."""

from randablate.data import ensure_cifar10
from randablate.jobs import job_log

with job_log(snakemake, "could not obtain CIFAR-10") as log:
    ensure_cifar10(snakemake.params.root, download=snakemake.params.download, log=log)
