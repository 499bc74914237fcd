"""Rule mnist: fetch and md5-verify the four MNIST IDX files."""

from randablate.data import ensure_mnist
from randablate.jobs import job_log

with job_log(snakemake, "could not obtain MNIST") as log:
    ensure_mnist(snakemake.params.directory, source_dir=snakemake.params.source_dir, log=log)
