"""Rule table7: our medians with Lee et al.'s sampling beside their quoted medians."""

import logging

import pandas as pd

from randablate.tables import read_certificates, table7, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("table7")
try:
    p = snakemake.params
    lee = dict(zip(p.datasets, map(read_certificates, snakemake.input.lee), strict=True))
    standard = dict(zip(p.datasets, map(read_certificates, snakemake.input.standard), strict=True))
    ks = dict(zip(p.datasets, p.k, strict=True))
    table = table7(lee, standard, ks, pd.read_csv(snakemake.input.paper), p.scale)
    write_csv(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
except Exception:
    log.exception("building Table 7 failed")
    raise
