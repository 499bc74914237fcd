"""Rules table4, table5: the CIFAR-10 base classifier's train and test accuracy per k."""

import json
import logging
from pathlib import Path

import pandas as pd

from randablate.tables import base_accuracy_table, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("table")
try:
    results = [json.loads(Path(path).read_text()) for path in snakemake.input.accuracy]
    table = base_accuracy_table(results, pd.read_csv(snakemake.input.paper), snakemake.params.scale)
    write_csv(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
except Exception:
    log.exception("building the table failed")
    raise
