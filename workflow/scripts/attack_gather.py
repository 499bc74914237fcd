"""Rule attack_gather: join one model's attack shards; per-image CSV with certified radii."""

import logging

from randablate.attack_report import attack_table, load_attack
from randablate.tables import merge_votes, read_certificates, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("attack_gather")
try:
    images = merge_votes(list(snakemake.input.shards), snakemake.output.attack)
    # One certificate file for a smoothed model, none for k = d (the unprotected CNN).
    certs_path = snakemake.input.certificates or None
    certs = read_certificates(certs_path) if certs_path else None
    table = attack_table(load_attack(snakemake.output.attack), certs, certs_path or "")
    write_csv(table, snakemake.output.table)
    log.info("merged %d shards, %d images", len(snakemake.input.shards), images)
except Exception:
    log.exception("gathering the attack failed")
    raise
