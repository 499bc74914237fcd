"""reference_table1_export: every row of Table 1 with intervals, and each k's per-image files.

Run on the tiny pipeline (k = 30 and 90, 12 images): the export's cells are recomputed here from
the certificates the pipeline wrote, and its copies are compared byte for byte.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, snakemake
from reference_cells import assert_summary_cells

from randablate import layout
from randablate.names import PAPER_DIR

KS = [30, 90]
IMAGES = 12


@pytest.fixture(scope="module")
def exported(tiny_run):
    """The tiny run's Table 1 export: its directory."""
    run = snakemake(tiny_run, f"{layout.REFERENCE_TABLE1_DIR}/summary.csv", "--cores", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    return tiny_run


def test_it_writes_exactly_the_layout_s_files(exported):
    config = yaml.safe_load((exported / "config/config.yaml").read_text())
    assert config["table1"]["k"] == KS
    out = exported / layout.REFERENCE_TABLE1_DIR
    written = sorted(f"{layout.REFERENCE_TABLE1_DIR}/{p.name}" for p in out.iterdir())
    expected = layout.reference_exports(config)["reference_table1_export"].files
    assert written == sorted(expected)
    assert "reference/mnist-table1/certificates_k90.csv.gz" in expected


def test_summary_cells_are_recomputed_from_the_certificates(exported):
    out = exported / layout.REFERENCE_TABLE1_DIR
    summary = pd.read_csv(out / "summary.csv")
    paper = pd.read_csv(REPO / PAPER_DIR / layout.PAPER_TABLES[1])
    paper = paper.set_index("k")
    assert len(summary) == 3 * len(KS) and (summary["images"] == IMAGES).all()
    assert (summary["table"] == "table1").all()
    for k in KS:
        results = exported / f"results/certificates/mnist/multichannel/cnn/k{k}/standard.csv"
        certs = pd.read_csv(results)
        ours = summary[summary["row"] == f"k={k}"].set_index("quantity")
        assert_summary_cells(ours, certs, paper.loc[k])
        exported_certs = pd.read_csv(out / f"certificates_k{k}.csv.gz")
        assert exported_certs["index"].tolist() == certs["index"].tolist()
        counts = [f"{stage}_{c}" for stage in ("select", "bound") for c in range(10)]
        for column in ("label", "guess", "radius", "robustness", "prediction", *counts):
            assert exported_certs[column].tolist() == certs[column].tolist(), column


def test_copies_scorecard_and_training_histories(exported):
    out = exported / layout.REFERENCE_TABLE1_DIR
    table1 = exported / "results/tables/table1.csv"
    assert (out / "table1.csv").read_bytes() == table1.read_bytes()
    provenance = exported / "results/provenance.yaml"
    assert (out / "provenance.yaml").read_bytes() == provenance.read_bytes()
    scorecard = pd.read_csv(out / "scorecard.csv")
    assert (scorecard["table"] == "table1").all()
    cells = pd.read_csv(exported / "results/tables/table1.cells.csv")
    assert len(scorecard) == len(cells)
    summary = pd.read_csv(out / "summary.csv")
    merged = scorecard.merge(summary, on=["table", "row", "quantity"], suffixes=("", "_s"))
    assert len(merged) == len(summary)
    # the scorecard's cells are printed to two decimals, as the paper's are
    expected = pytest.approx(merged["ours_s"].tolist(), abs=0.005, nan_ok=True)
    assert merged["ours"].tolist() == expected
    for k in KS:
        history = pd.read_csv(out / f"training_k{k}.csv")
        model = exported / f"results/models/mnist/multichannel/cnn/k{k}/model.pt"
        meta = torch.load(model, map_location="cpu", weights_only=True)["meta"]
        assert len(history) == len(meta["history"]) == 2  # the tiny run's 2 epochs
