"""Rule certificates: per-image certificates and predictions from the raw vote counts."""

from randablate.certification import certificates_job
from randablate.jobs import job_log

with job_log(snakemake, "certification failed") as log:
    p, out = snakemake.params, snakemake.output.certificates
    # predict_from: the workflow's prediction stage, checked against the scheme the votes
    # record (votes counted before schemes were recorded take it as theirs)
    certificates_job(snakemake.input.votes, out, p.alpha, p.predict_from, log)
