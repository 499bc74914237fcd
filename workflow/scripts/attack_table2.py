"""Rule table2: the paper's Table 2 (median Pointwise attack magnitude), quoted and measured."""

import pandas as pd

from randablate.attack_report import (
    smoothed_model_name,
    table2,
    table2_cells,
    unprotected_model_name,
)
from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.tables import read_certificates

with job_log(snakemake, "building Table 2 failed") as log:
    p, inp = snakemake.params, snakemake.input
    measured = {unprotected_model_name(p.baseline_k): pd.read_csv(inp.baseline)}
    certified = {}
    if hasattr(inp, "smoothed"):  # attack.smoothed on: the paper's randomized-ablation row
        smoothed = smoothed_model_name(p.k)
        measured[smoothed] = pd.read_csv(inp.smoothed)
        # The paper's accuracy cell is Table 1's accuracy: score ours over Table 1's images too.
        certified[smoothed] = read_certificates(inp.certificates)
    table = table2(pd.read_csv(inp.paper), measured, p.settings, p.scale, certified)
    write_csv(table, snakemake.output.table)
    write_csv(table2_cells(table), snakemake.output.cells)
    log.info("\n%s", table.to_string(index=False))
