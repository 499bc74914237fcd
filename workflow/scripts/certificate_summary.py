"""Rules table1, table3 and table6: accuracy, abstentions and median certificate per k."""

import pandas as pd

from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.tables import certificate_cells, certificate_summary, read_certificates

with job_log(snakemake, "building the table failed") as log:
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
    )
    write_csv(table, snakemake.output.table)
    write_csv(certificate_cells(table, snakemake.rule), snakemake.output.cells)
    log.info("\n%s", table.to_string(index=False))
