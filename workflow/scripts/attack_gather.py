"""Rule attack_gather: join one model's attack shards; per-image CSV with certified radii."""

from randablate.attack_report import attack_table
from randablate.files import load_npz, merge_shards, write_csv
from randablate.jobs import job_log
from randablate.tables import read_certificates

with job_log(snakemake, "gathering the attack failed") as log:
    images = merge_shards(list(snakemake.input.shards), snakemake.output.attack)
    # One certificate file for a smoothed model, none for k = d (the unprotected CNN).
    certs_path = snakemake.input.certificates or None
    certs = read_certificates(certs_path) if certs_path else None
    table = attack_table(load_npz(snakemake.output.attack), certs, certs_path or "")
    write_csv(table, snakemake.output.table)
    log.info("merged %d shards, %d images", len(snakemake.input.shards), images)
