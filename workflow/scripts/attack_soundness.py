"""Rule attack_soundness: each attacked image's attack magnitude against its certified radius."""

import pandas as pd

from randablate.attack_report import soundness_table
from randablate.files import write_csv
from randablate.jobs import job_log

with job_log(snakemake, "building the soundness table failed") as log:
    table = soundness_table(pd.read_csv(snakemake.input.smoothed))
    write_csv(table, snakemake.output.table)
    flagged = int(table["flag"].sum())
    share = flagged / max(len(table), 1)
    log.info(
        "%d of %d images flagged (%.3f; alpha %g)",
        flagged,
        len(table),
        share,
        snakemake.params.alpha,
    )
    if share > snakemake.params.alpha:
        log.warning(
            "more images flagged than the alpha share: %s", table[table["flag"]]["index"].tolist()
        )
