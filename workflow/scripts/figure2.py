"""Rule figure2: the bounding constant delta against rho for several k (d = 784)."""

from randablate.figures import plot_delta
from randablate.jobs import job_log

with job_log(snakemake, "plotting Figure 2 failed") as log:
    plot_delta(snakemake.params.k, snakemake.output.figure)
    log.info("k = %s", snakemake.params.k)
