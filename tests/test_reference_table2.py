"""The reference run's Table 2 export: its summary beside the paper's rows, and its files."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO
from torch import nn

from randablate.models import save_model
from randablate.reference_table2 import export_table2

PAPER = REPO / "resources" / "paper" / "table2_mnist_pointwise.csv"
HISTORY = [{"epoch": 1, "loss": 0.5, "accuracy": 0.75}, {"epoch": 2, "loss": 0.25, "accuracy": 0.9}]


def attack_csv(path, labels, predictions, l0) -> str:
    """A per-image attack table with the columns Table 2's summary reads."""
    table = pd.DataFrame({"label": labels, "clean_prediction": predictions, "attack_l0": l0})
    table.to_csv(path, index=False)
    return str(path)


@pytest.fixture
def run_files(tmp_path):
    """The unprotected CNN's attack (3 of 4 right; L0 0, 4, 6, inf), its model and a Table 2."""
    attack = attack_csv(tmp_path / "cnn.csv", [1, 2, 3, 4], [1, 2, 3, 0], [4, 6, float("inf"), 0])
    model = tmp_path / "model.pt"
    save_model(
        model,
        nn.Linear(2, 2),
        {"arch": "x", "in_channels": 1, "num_classes": 2, "history": HISTORY},
    )
    (tmp_path / "table2.csv").write_text("model,accuracy_pct\nours,75\n")
    return {"paper": PAPER, "table2": tmp_path / "table2.csv", "attack": attack, "model": model}


def test_without_the_smoothed_classifier_only_the_cnn_row_and_its_files(tmp_path, run_files):
    out = tmp_path / "reference"
    summary = export_table2(out, **run_files, baseline_k=784, confidence=0.95, k=45)
    assert sorted(p.name for p in out.iterdir()) == [
        "attack_unprotected_cnn.csv",
        "summary_table2.csv",
        "table2.csv",
        "training_unprotected_cnn.csv",
    ]
    written = pd.read_csv(out / "summary_table2.csv")
    pd.testing.assert_frame_equal(written, summary, check_dtype=False)
    assert summary["row"].unique().tolist() == ["CNN, unprotected (k=784, no pixel ablated)"]
    cells = summary.set_index("quantity")
    assert cells.loc["accuracy_pct", "ours"] == 75.0  # 3 of 4 clean predictions right
    assert cells.loc["median_attack_magnitude_pixels", "ours"] == 5.0  # of 0, 4, 6 and inf
    assert cells["paper"].tolist() == [99.1, 9.0]  # the paper's CNN row, Schott et al.'s
    assert (cells["paper_row"] == "CNN (Schott et al. 2019)").all() and (cells["images"] == 4).all()
    assert (out / "table2.csv").read_bytes() == run_files["table2"].read_bytes()
    training = pd.read_csv(out / "training_unprotected_cnn.csv")
    assert training.to_dict("records") == HISTORY


def test_the_smoothed_classifier_stands_beside_the_paper_s_row_of_its_k(tmp_path, run_files):
    smoothed = attack_csv(tmp_path / "smoothed.csv", [1, 2], [1, 2], [30, 40])
    out = tmp_path / "reference"
    summary = export_table2(
        out, **run_files, baseline_k=784, confidence=0.95, smoothed=smoothed, k=45
    )
    assert (out / "attack_smoothed_k45.csv").read_text() == (tmp_path / "smoothed.csv").read_text()
    rows = summary[summary["row"] == "Randomized ablation (k=45)"].set_index("quantity")
    assert rows["ours"].tolist() == [100.0, 35.0]
    assert rows["paper"].tolist() == [96.7, 31.0]
    assert (
        rows["paper_row"].str.startswith("Randomized ablation (k=45) (measured in the paper").all()
    )
    # a k the paper did not attack: no paper values beside it
    other = export_table2(
        out, **run_files, baseline_k=784, confidence=0.95, smoothed=smoothed, k=30
    )
    rows = other[other["row"] == "Randomized ablation (k=30)"]
    assert rows["paper"].isna().all()
    assert (rows["paper_row"] == "none (the paper has no such row)").all()
