"""Rule table7: our medians with Lee et al.'s sampling beside their quoted medians."""

import pandas as pd

from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.tables import read_certificates, table7, table7_cells

with job_log(snakemake, "building Table 7 failed") as log:
    p = snakemake.params
    lee = dict(zip(p.datasets, map(read_certificates, snakemake.input.lee), strict=True))
    standard = dict(zip(p.datasets, map(read_certificates, snakemake.input.standard), strict=True))
    ks = dict(zip(p.datasets, p.k, strict=True))
    table = table7(lee, standard, ks, pd.read_csv(snakemake.input.paper), p.scale)
    write_csv(table, snakemake.output.table)
    write_csv(table7_cells(table), snakemake.output.cells)
    log.info("\n%s", table.to_string(index=False))
