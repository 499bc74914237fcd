"""Rule figure_l0_certificates_compared: certified accuracy against ρ, every L0 certificate."""

import pandas as pd

from randablate.figures import plot_l0_compared
from randablate.jobs import job_log

with job_log(snakemake, "plotting failed"):
    p = snakemake.params
    table = pd.read_csv(snakemake.input.table)
    labels = dict(zip(table["method"], table["label"], strict=True))
    quoted = table[table["source"].str.startswith("quoted")]
    medians = {  # e.g. "quoted median 12: feature partition aggregation (Hammoudeh & Lowd, ...)"
        f"quoted median {int(row.median_certificate_pixels)}: {row.label.split(',')[0]} "
        f"({row.source.removeprefix('quoted: ').split(' (')[0]})": float(
            row.median_certificate_pixels
        )
        for row in quoted.itertuples()
    }
    title = f"MNIST, the same {p.images} test images ({p.scale} scale)"
    curves = pd.read_csv(snakemake.input.curves)
    plot_l0_compared(curves, labels, snakemake.output.figure, title, medians)
