"""Rule certificates: per-image certificates and predictions from the raw vote counts."""

import logging

from randablate.tables import certificate_table, load_votes, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("certificates")
try:
    p = snakemake.params
    table = certificate_table(load_votes(snakemake.input.votes), p.alpha, p.predict_from)
    write_csv(table, snakemake.output.certificates)
    log.info("%d images, alpha=%g", len(table), snakemake.params.alpha)
except Exception:
    log.exception("certification failed")
    raise
