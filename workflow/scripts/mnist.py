"""Rule mnist: fetch and md5-verify the four MNIST IDX files."""

import logging

from randablate.data import ensure_mnist

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("mnist")
try:
    ensure_mnist(snakemake.params.directory, source_dir=snakemake.params.source_dir, log=log)
except Exception:
    log.exception("could not obtain MNIST")
    raise
