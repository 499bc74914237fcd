"""Rule l0_certificates_compared: every L0 certificate's curve, median and cost, same images."""

import pandas as pd

from randablate.files import load_npz, write_csv
from randablate.jobs import job_log
from randablate.l0compared import benchmark_seconds, curves, methods, summary

with job_log(snakemake, "comparing the L0 certificates failed") as log:
    p, i = snakemake.params, snakemake.input
    ks, groups = [int(k) for k in p.k], [int(t) for t in p.groups]
    standard = {k: load_npz(path) for k, path in zip(ks, i.standard, strict=True)}
    fpa = {t: load_npz(path) for t, path in zip(groups, i.fpa, strict=True)}
    lee = {p.lee_k: load_npz(i.lee[0])}
    # wall seconds of the jobs that counted each method's votes (None where not recorded)
    seconds = {("lee", p.lee_k): benchmark_seconds(p.lee_benchmarks)}
    for k, files in zip(ks, p.standard_benchmarks, strict=True):
        seconds["standard", k] = benchmark_seconds(files)
    for t, file in zip(groups, p.fpa_benchmarks, strict=True):
        seconds["fpa", t] = benchmark_seconds([file])
    compared = methods(standard, p.alpha, fpa, lee, p.lee_alpha, seconds)
    table = summary(compared, pd.read_csv(i.paper))
    write_csv(table, snakemake.output.table)
    write_csv(curves(compared), snakemake.output.curves)
    log.info("\n%s", table.to_string(index=False))
