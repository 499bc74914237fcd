"""Rule reference_export: the reference run's rows, intervals and per-image files."""

import logging

import pandas as pd

from randablate.reference import export_reference, reference_summary
from randablate.tables import read_certificates

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("reference")
try:
    p, inp = snakemake.params, snakemake.input
    certs = dict(zip(("multichannel", "mean"), inp.certificates, strict=True))
    table1 = pd.read_csv(inp.table1).set_index("k")
    table8 = pd.read_csv(inp.table8)
    quantities = {
        "accuracy_pct": "accuracy_pct",
        "abstained_pct": "abstained_pct",
        "median_certified_robustness_pixels": "median_certified_robustness",
    }
    paper = {
        ("table1", f"k={p.k}"): {q: table1.loc[p.k, f"paper_{c}"] for q, c in quantities.items()}
    }
    for record in table8[table8["dataset"] == "MNIST"].to_dict("records"):
        row = f"MNIST k={record['k']} {record['encoding']}"
        paper[("table8", row)] = {q: record[f"paper_{c}"] for q, c in quantities.items()}
    rows = {("table1", f"k={p.k}"): read_certificates(certs["multichannel"])}
    for encoding, path in certs.items():
        rows[("table8", f"MNIST k={p.k} {encoding}")] = read_certificates(path)
    summary = reference_summary(rows, paper, p.confidence)
    export_reference(
        p.out_dir,
        summary,
        certs,
        dict(zip(("multichannel", "mean"), inp.models, strict=True)),
        {
            "table1.csv": inp.table1,
            "table8.csv": inp.table8,
            "scorecard.csv": inp.scorecard,
            "provenance.yaml": inp.provenance,
        },
    )
    log.info("\n%s", summary.to_string(index=False))
except Exception:
    log.exception("exporting the reference run failed")
    raise
