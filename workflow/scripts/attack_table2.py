"""Rule table2: the paper's Table 2 (median Pointwise attack magnitude), quoted and measured."""

import logging

import pandas as pd

from randablate.attack_report import table2
from randablate.tables import read_certificates, write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("table2")
try:
    p = snakemake.params
    smoothed = f"Randomized ablation (k = {p.k})"
    measured = {
        f"CNN, unprotected (k = {p.baseline_k}, no pixel ablated)": pd.read_csv(
            snakemake.input.baseline
        ),
        smoothed: pd.read_csv(snakemake.input.smoothed),
    }
    # The paper's accuracy cell is Table 1's accuracy: score ours over Table 1's images too.
    certified = {smoothed: read_certificates(snakemake.input.certificates)}
    table = table2(pd.read_csv(snakemake.input.paper), measured, p.settings, p.scale, certified)
    write_csv(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
except Exception:
    log.exception("building Table 2 failed")
    raise
