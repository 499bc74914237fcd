"""Rules reference_export and reference_table1_export: a run's rows with intervals, and files."""

from randablate.jobs import job_log
from randablate.reference import export_run
from randablate.scorecard import Tolerance

with job_log(snakemake, "exporting the reference run failed") as log:
    p, inp = snakemake.params, snakemake.input
    inputs = (inp.certificates, inp.models, inp.tables, inp.cells, inp.provenance)
    summary = export_run(p.out_dir, p.export, *inputs, Tolerance(**p.tolerance), p.scale)
    log.info("\n%s", summary.to_string(index=False))
