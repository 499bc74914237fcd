"""Rule discussion: the Discussion's numbers (Eqs. 20-21, one-pixel limit), computed."""

import pandas as pd

from randablate.discussion import discussion_cells, discussion_table
from randablate.files import write_csv
from randablate.jobs import job_log

with job_log(snakemake, "computing the Discussion's numbers failed") as log:
    table = discussion_table(pd.read_csv(snakemake.input.paper))
    write_csv(table, snakemake.output.table)
    write_csv(discussion_cells(table), snakemake.output.cells)
    log.info("\n%s", table.to_string(index=False))
