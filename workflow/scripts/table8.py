"""Rule table8: the multichannel and the mean NULL encodings at each data set's best k."""

import pandas as pd

from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.tables import read_certificates, table8, table8_cells

with job_log(snakemake, "building Table 8 failed") as log:
    p = snakemake.params
    rows = {
        tuple(row): read_certificates(path)
        for row, path in zip(p.rows, snakemake.input.certificates, strict=True)
    }
    table = table8(rows, pd.read_csv(snakemake.input.paper), p.scale)
    write_csv(table, snakemake.output.table)
    write_csv(table8_cells(table), snakemake.output.cells)
    log.info("\n%s", table.to_string(index=False))
