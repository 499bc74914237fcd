"""Rule figure_certificates_compared: the four certificates' certified accuracy against ρ."""

import pandas as pd

from randablate.figures import plot_compared
from randablate.jobs import job_log

with job_log(snakemake, "plotting failed") as log:
    p = snakemake.params
    title = f"{p.name}, {p.images} test images, n = {p.n}, alpha = {p.alpha} ({p.scale} scale)"
    plot_compared(pd.read_csv(snakemake.input.table), snakemake.output.figure, title)
