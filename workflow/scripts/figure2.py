"""Rule figure2: the bounding constant delta against rho for several k (d = 784)."""

import logging

from randablate.illustrations import plot_delta

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("figure2")
try:
    plot_delta(snakemake.params.k, snakemake.output.figure)
    log.info("k = %s", snakemake.params.k)
except Exception:
    log.exception("plotting Figure 2 failed")
    raise
