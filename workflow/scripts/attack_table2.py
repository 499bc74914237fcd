"""Rule table2: the paper's Table 2 (median Pointwise attack magnitude), quoted and measured."""

import pandas as pd

from randablate.attack_report import table2, table2_cells
from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.tables import read_certificates

with job_log(snakemake, "building Table 2 failed") as log:
    p, inp = snakemake.params, snakemake.input
    measured = {f"CNN, unprotected (k={p.baseline_k}, no pixel ablated)": pd.read_csv(inp.baseline)}
    certified = {}
    if hasattr(inp, "smoothed"):  # attack.smoothed: the paper's row "Randomized ablation (k=45)"
        smoothed = f"Randomized ablation (k={p.k})"
        measured[smoothed] = pd.read_csv(inp.smoothed)
        # The paper's accuracy cell is Table 1's accuracy: score ours over Table 1's images too.
        certified[smoothed] = read_certificates(inp.certificates)
    table = table2(pd.read_csv(inp.paper), measured, p.settings, p.scale, certified)
    write_csv(table, snakemake.output.table)
    write_csv(table2_cells(table), snakemake.output.cells)
    log.info("\n%s", table.to_string(index=False))
