"""Rule figure_certified_accuracy: certified accuracy against the L0 radius, one line per k."""

import pandas as pd

from randablate.figures import plot_certified_accuracy
from randablate.jobs import job_log
from randablate.tables import read_certificates, robustness_by_k

with job_log(snakemake, "plotting failed") as log:
    p = snakemake.params
    certs = {
        int(k): read_certificates(path)
        for k, path in zip(p.k, snakemake.input.certificates, strict=True)
    }
    title = f"{p.name}, {p.images} test images, n = {p.n} ({p.scale} scale)"
    paper = pd.read_csv(snakemake.input.paper)
    medians = dict(zip(paper["k"], paper["median_certified_robustness_pixels"], strict=True))
    plot_certified_accuracy(
        robustness_by_k(certs), snakemake.output.figure, title, paper_medians=medians
    )
