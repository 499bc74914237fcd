"""The library's entry points: top-level names and the `randablate certify` command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from randablate import cli
from randablate.encoding import get_encoding
from randablate.models import build_model, load_model, save_model
from randablate.seeding import derive_seed
from randablate.smoothing import load_smoothed


def test_top_level_names_without_starting_torch():
    import randablate.certificates
    import randablate.smoothing
    from randablate import Smoothed, certified_radius, load_smoothed

    assert certified_radius is randablate.certificates.certified_radius
    assert (Smoothed, load_smoothed) == (
        randablate.smoothing.Smoothed,
        randablate.smoothing.load_smoothed,
    )
    # importing the package alone must not import torch (the workflow imports it torch-free)
    code = "import sys, randablate; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    meta = {"arch": "cnn", "in_channels": 2, "num_classes": 10, "k": 45}
    meta.update(get_encoding("multichannel", 1).describe())
    save_model(tmp_path / "model.pt", build_model("cnn", 2, 10), meta)
    return tmp_path / "model.pt"


def test_certify_command_prints_and_writes_the_library_certificates(tmp_path, model_file, capsys):
    images = torch.rand(3, 1, 28, 28)
    torch.save(images, tmp_path / "x.pt")
    np.save(tmp_path / "y.npy", np.array([1, 2, 3]))
    args = ["certify", "--model", str(model_file), "--images", str(tmp_path / "x.pt")]
    args += ["--labels", str(tmp_path / "y.npy"), "--n0", "20", "--n", "100"]
    args += ["--seed", "5", "--out", str(tmp_path / "c.csv")]
    assert cli.main(args) == 0
    table = pd.read_csv(tmp_path / "c.csv")
    smoothed, _ = load_smoothed(model_file, 45, device="cpu")
    seeds = [derive_seed(5, "cli", i) for i in range(3)]
    expected = smoothed.certify(images, 20, 100, 0.05, seeds)
    assert table["guess"].tolist() == expected.guess.tolist()
    assert table["radius"].tolist() == expected.radius.tolist()
    assert table["label"].tolist() == [1, 2, 3]
    assert "radius -1: not certified" in capsys.readouterr().out


def test_certify_command_names_the_bad_file(tmp_path, model_file):
    torch.save((torch.rand(2, 1, 28, 28) * 255).to(torch.uint8), tmp_path / "x.pt")
    args = ["certify", "--model", str(model_file), "--images", str(tmp_path / "x.pt")]
    with pytest.raises(SystemExit, match=r"x.pt: expected a batch.*uint8"):
        cli.main(args)
    with pytest.raises(SystemExit, match="no such file"):
        cli.main(["certify", "--model", str(model_file), "--images", str(tmp_path / "none.pt")])


def test_load_model_explains_a_plain_state_dict(tmp_path):
    torch.save(build_model("cnn", 2, 10).state_dict(), tmp_path / "plain.pt")
    with pytest.raises(ValueError, match=r"plain.pt is not a model file of save_model.*'meta'"):
        load_model(tmp_path / "plain.pt")


def test_certify_logs_progress_and_batching_does_not_change_certificates(model_file, caplog):
    import logging

    smoothed, _ = load_smoothed(model_file, 45, batch_size=50, device="cpu")
    images = torch.rand(5, 1, 28, 28)
    seeds = [derive_seed(1, i) for i in range(5)]
    with caplog.at_level(logging.INFO, logger="randablate.smoothing"):
        grouped = smoothed.certify(images, 20, 480, 0.05, seeds)  # groups of 2 images
    assert "certified 5/5 images" in caplog.text
    one_by_one = [
        smoothed.certify(images[i : i + 1], 20, 480, 0.05, [derive_seed(1, i)]) for i in range(5)
    ]
    assert grouped.counts_bound.tolist() == [c.counts_bound[0].tolist() for c in one_by_one]
