"""Rule reference_table2: the reference run's Table 2, per-image attack and CNN's training."""

from pathlib import Path

import pandas as pd

from randablate.attack_report import unprotected_model_name
from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.reference import attack_summary, export_files

# Our unprotected CNN stands beside the paper's own unprotected CNN (Schott et al.'s), the
# nearest printed row; the two models differ (the README says how).
PAPER_ROW = "CNN"

with job_log(snakemake, "exporting the reference run's Table 2 failed") as log:
    p, inp = snakemake.params, snakemake.input
    paper = pd.read_csv(inp.paper).set_index("model").loc[PAPER_ROW]
    summary = attack_summary(
        pd.read_csv(inp.attack),
        unprotected_model_name(p.baseline_k),
        paper.to_dict(),
        f"{PAPER_ROW} ({paper['source']})",
        p.confidence,
    )
    write_csv(summary, Path(p.out_dir) / "summary_table2.csv")
    written = export_files(
        p.out_dir,
        {"unprotected_cnn": inp.model},
        {"table2.csv": inp.table2, "attack_unprotected_cnn.csv": inp.attack},
    )
    log.info("\n%s\nwrote %s", summary.to_string(index=False), ", ".join(map(str, written)))
