"""Rules table4, table5: the CIFAR-10 base classifier's train and test accuracy per k."""

import pandas as pd

from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.tables import base_accuracy_cells, base_accuracy_table, read_base_accuracy

with job_log(snakemake, "building the table failed") as log:
    results = [read_base_accuracy(path) for path in snakemake.input.accuracy]
    table = base_accuracy_table(results, pd.read_csv(snakemake.input.paper), snakemake.params.scale)
    write_csv(table, snakemake.output.table)
    write_csv(base_accuracy_cells(table, snakemake.rule), snakemake.output.cells)
    log.info("\n%s", table.to_string(index=False))
