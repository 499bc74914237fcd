"""Rule reproduction: every number the paper prints beside ours, with tolerances."""

from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.scorecard import Tolerance, read_cells, scorecard, summary

with job_log(snakemake, "building the scorecard failed") as log:
    p = snakemake.params
    cells = read_cells(snakemake.input.cells)
    card = scorecard(cells, Tolerance(**p.tolerance), scale=p.scale)
    write_csv(card, snakemake.output.table)
    log.info("%s", summary(card))
