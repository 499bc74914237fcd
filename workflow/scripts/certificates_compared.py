"""Rule certificates_compared: certified accuracy under four certificates, from the votes."""

from randablate.comparison import compare_certificates, looser_than_corollary1
from randablate.files import load_npz, write_csv
from randablate.jobs import job_log

with job_log(snakemake, "comparing the certificates failed") as log:
    p = snakemake.params
    votes = {int(k): load_npz(path) for k, path in zip(p.k, snakemake.input.votes, strict=True)}
    table = compare_certificates(votes, p.alpha)
    write_csv(table, snakemake.output.table)
    log.info("Corollary 2 below Corollary 1 at:\n%s", looser_than_corollary1(table))
