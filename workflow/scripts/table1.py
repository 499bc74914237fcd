"""Rules table1, table3, table6: accuracy, abstentions and median certificate per k."""

import logging

import pandas as pd

from randablate.tables import certificate_summary, read_certificates, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("table")
try:
    p = snakemake.params
    certs = {
        int(k): read_certificates(path)
        for k, path in zip(p.k, snakemake.input.certificates, strict=True)
    }
    table = certificate_summary(
        certs,
        pd.read_csv(snakemake.input.paper),
        alpha=p.alpha,
        scale=p.scale,
        training=p.training,
        dataset=p.dataset,
    )
    write_csv(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
except Exception:
    log.exception("building the table failed")
    raise
