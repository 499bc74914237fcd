"""Rule reference_table2: the reference run's Table 2, per-image attack and CNN's training."""

from randablate.jobs import job_log
from randablate.reference import export_files

with job_log(snakemake, "exporting the reference run's Table 2 failed") as log:
    inp = snakemake.input
    written = export_files(
        snakemake.params.out_dir,
        {"unprotected_cnn": inp.model},
        {"table2.csv": inp.table2, "attack_unprotected_cnn.csv": inp.attack},
    )
    log.info("wrote %s", ", ".join(str(path) for path in written))
