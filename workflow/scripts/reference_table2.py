"""Rule reference_table2: the reference run's Table 2, per-image attacks and CNN's training."""

from randablate.jobs import job_log
from randablate.reference_table2 import export_table2

with job_log(snakemake, "exporting the reference run's Table 2 failed") as log:
    p, inp = snakemake.params, snakemake.input
    export_table2(
        p.out_dir,
        paper=inp.paper,
        table2=inp.table2,
        attack=inp.attack,
        model=inp.model,
        baseline_k=p.baseline_k,
        confidence=p.confidence,
        # attack.smoothed on: the randomized-ablation row
        smoothed=inp.smoothed if hasattr(inp, "smoothed") else None,
        k=p.k,
        log=log,
    )
