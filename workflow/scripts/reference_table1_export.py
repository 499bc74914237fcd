"""Rule reference_table1_export: all of Table 1's rows with intervals, each k's per-image files."""

from pathlib import Path

from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.layout import REFERENCE_SCORECARD, REFERENCE_TABLE1_COPIES, reference_k_name
from randablate.reference import export_reference, paper_values, reference_summary
from randablate.scorecard import Tolerance, read_cells, scorecard
from randablate.tables import K_ROW, read_certificates

with job_log(snakemake, "exporting Table 1's reference run failed") as log:
    p, inp = snakemake.params, snakemake.input
    cells = read_cells([inp.cells])
    names = [reference_k_name(k) for k in p.ks]
    certs = dict(zip(names, inp.certificates, strict=True))
    rows = {
        ("table1", K_ROW.format(k=k)): read_certificates(path)
        for k, path in zip(p.ks, inp.certificates, strict=True)
    }
    summary = reference_summary(rows, paper_values(cells), p.confidence)
    models = dict(zip(names, inp.models, strict=True))
    copies = dict(zip(REFERENCE_TABLE1_COPIES, (inp.table1, inp.provenance), strict=True))
    export_reference(p.out_dir, summary, certs, models, copies)
    card = scorecard(cells, Tolerance(**p.tolerance), scale=p.scale)
    write_csv(card, Path(p.out_dir) / REFERENCE_SCORECARD)
    log.info("\n%s", summary.to_string(index=False))
