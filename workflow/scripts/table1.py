"""Rule table1: the paper's Table 1 (accuracy, abstentions, median certificate per k)."""

import logging

import pandas as pd

from randablate.tables import read_certificates, table1, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("table1")
try:
    certs = {
        int(k): read_certificates(path)
        for k, path in zip(snakemake.params.k, snakemake.input.certificates, strict=True)
    }
    table = table1(
        certs,
        pd.read_csv(snakemake.input.paper),
        alpha=snakemake.params.alpha,
        scale=snakemake.params.scale,
        training=snakemake.params.training,
    )
    write_csv(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
except Exception:
    log.exception("building Table 1 failed")
    raise
