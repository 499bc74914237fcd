"""Rule figure_certificates_compared: the four certificates' certified accuracy against ρ."""

import logging

import pandas as pd

from randablate.comparison import plot_compared

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("figure")
try:
    p = snakemake.params
    title = f"{p.name}, {p.images} test images, n = {p.n}, alpha = {p.alpha} ({p.scale} scale)"
    plot_compared(pd.read_csv(snakemake.input.table), snakemake.output.figure, title)
except Exception:
    log.exception("plotting failed")
    raise
