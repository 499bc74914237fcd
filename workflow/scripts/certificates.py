"""Rule certificates: per-image certificates and predictions from the raw vote counts."""

from randablate.files import load_npz, write_csv
from randablate.jobs import job_log
from randablate.tables import certificate_table

with job_log(snakemake, "certification failed") as log:
    p = snakemake.params
    table = certificate_table(load_npz(snakemake.input.votes), p.alpha, p.predict_from)
    write_csv(table, snakemake.output.certificates)
    log.info("%d images, alpha=%g", len(table), snakemake.params.alpha)
