"""Rule table8: the multichannel and the mean NULL encodings at each data set's best k."""

import logging

import pandas as pd

from randablate.tables import read_certificates, table8, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("table8")
try:
    p = snakemake.params
    rows = {
        tuple(row): read_certificates(path)
        for row, path in zip(p.rows, snakemake.input.certificates, strict=True)
    }
    table = table8(rows, pd.read_csv(snakemake.input.paper), p.scale)
    write_csv(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
except Exception:
    log.exception("building Table 8 failed")
    raise
