"""Rule cifar10: check (or let torchvision download) CIFAR-10 into <data_dir>/cifar10."""

import logging

from randablate.data import ensure_cifar10

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("cifar10")
try:
    ensure_cifar10(snakemake.params.root, download=snakemake.params.download, log=log)
except Exception:
    log.exception("could not obtain CIFAR-10")
    raise
