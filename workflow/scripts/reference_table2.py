"""Rule reference_table2: the reference run's Table 2, per-image attacks and CNN's training."""

from pathlib import Path

import pandas as pd

from randablate.attack_report import smoothed_model_name, unprotected_model_name
from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.reference import attack_summary, export_files

# Our unprotected CNN stands beside the paper's own unprotected CNN (Schott et al.'s), the
# nearest printed row; the two models differ (the README says how).
CNN_PAPER_ROW = "CNN"


def paper_row(paper: pd.DataFrame, model: str) -> tuple[dict, str]:
    """The paper's Table 2 values of `model` and a label naming their source (none if absent)."""
    if model not in paper.index:
        return {}, "none (the paper has no such row)"
    row = paper.loc[model]
    return row.to_dict(), f"{model} ({row['source']})"


with job_log(snakemake, "exporting the reference run's Table 2 failed") as log:
    p, inp = snakemake.params, snakemake.input
    paper = pd.read_csv(inp.paper).set_index("model")
    summaries = [
        attack_summary(
            pd.read_csv(inp.attack),
            unprotected_model_name(p.baseline_k),
            *paper_row(paper, CNN_PAPER_ROW),
            p.confidence,
        )
    ]
    copies = {"table2.csv": inp.table2, "attack_unprotected_cnn.csv": inp.attack}
    if hasattr(inp, "smoothed"):  # attack.smoothed on: the randomized-ablation row
        name = smoothed_model_name(p.k)
        smoothed = pd.read_csv(inp.smoothed)
        summaries.append(attack_summary(smoothed, name, *paper_row(paper, name), p.confidence))
        copies[f"attack_smoothed_k{p.k}.csv"] = inp.smoothed
    summary = pd.concat(summaries, ignore_index=True)
    write_csv(summary, Path(p.out_dir) / "summary_table2.csv")
    written = export_files(p.out_dir, {"unprotected_cnn": inp.model}, copies)
    log.info("\n%s\nwrote %s", summary.to_string(index=False), ", ".join(map(str, written)))
