"""Rule discussion_imagenet: the ImageNet medians the Results section quotes, computed."""

import pandas as pd

from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.tables import imagenet_medians, imagenet_medians_cells, read_certificates

with job_log(snakemake, "computing the ImageNet medians failed") as log:
    certs = {
        int(k): read_certificates(path)
        for k, path in zip(snakemake.params.k, snakemake.input.certificates, strict=True)
    }
    table = imagenet_medians(certs, pd.read_csv(snakemake.input.paper))
    write_csv(table, snakemake.output.table)
    write_csv(imagenet_medians_cells(table), snakemake.output.cells)
    log.info("\n%s", table.to_string(index=False))
