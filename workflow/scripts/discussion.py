"""Rule discussion: the Discussion's numbers (Eqs. 20-21, one-pixel limit), computed."""

import logging

import pandas as pd

from randablate.discussion import discussion_table
from randablate.tables import write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("discussion")
try:
    table = discussion_table(pd.read_csv(snakemake.input.paper))
    write_csv(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
except Exception:
    log.exception("computing the Discussion's numbers failed")
    raise
