"""Rule discussion_imagenet: the ImageNet medians the Results section quotes, computed."""

import logging

import pandas as pd

from randablate.tables import imagenet_medians, read_certificates, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("discussion_imagenet")
try:
    certs = {
        int(k): read_certificates(path)
        for k, path in zip(snakemake.params.k, snakemake.input.certificates, strict=True)
    }
    table = imagenet_medians(certs, pd.read_csv(snakemake.input.paper))
    write_csv(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
except Exception:
    log.exception("computing the ImageNet medians failed")
    raise
