"""Rule certificates_compared: certified accuracy under four certificates, from the votes."""

import logging

from randablate.comparison import compare_certificates, looser_than_corollary1
from randablate.tables import load_votes, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("certificates_compared")
try:
    p = snakemake.params
    votes = {int(k): load_votes(path) for k, path in zip(p.k, snakemake.input.votes, strict=True)}
    table = compare_certificates(votes, p.alpha)
    write_csv(table, snakemake.output.table)
    log.info("Corollary 2 below Corollary 1 at:\n%s", looser_than_corollary1(table))
except Exception:
    log.exception("comparing the certificates failed")
    raise
