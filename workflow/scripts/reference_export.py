"""Rule reference_export: the reference run's rows, intervals and per-image files."""

from randablate.datasets import DATASETS
from randablate.jobs import job_log
from randablate.names import ENCODINGS
from randablate.reference import export_reference, paper_values, reference_summary
from randablate.scorecard import read_cells
from randablate.tables import K_ROW, TABLE8_ROW, read_certificates

with job_log(snakemake, "exporting the reference run failed") as log:
    p, inp = snakemake.params, snakemake.input
    certs = dict(zip(ENCODINGS, inp.certificates, strict=True))
    paper = paper_values(read_cells(inp.cells))
    rows = {("table1", K_ROW.format(k=p.k)): read_certificates(certs["multichannel"])}
    for encoding, path in certs.items():
        row = TABLE8_ROW.format(dataset=DATASETS["mnist"].title, k=p.k, encoding=encoding)
        rows[("table8", row)] = read_certificates(path)
    summary = reference_summary(rows, paper, p.confidence)
    export_reference(
        p.out_dir,
        summary,
        certs,
        dict(zip(ENCODINGS, inp.models, strict=True)),
        {
            "table1.csv": inp.table1,
            "table8.csv": inp.table8,
            "scorecard.csv": inp.scorecard,
            "provenance.yaml": inp.provenance,
        },
    )
    log.info("\n%s", summary.to_string(index=False))
