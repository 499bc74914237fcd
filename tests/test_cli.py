"""The library's entry points: top-level names and the `randablate certify` command."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import holds_unless_planted
from kept_intensity import kept_intensity_cnn, save_kept_intensity_model, varied_images, vote

from randablate import cli, smoothing
from randablate.ablation import keep_masks
from randablate.encoding import get_encoding
from randablate.models import build_model, load_model
from randablate.seeding import derive_seed
from randablate.smoothing import load_smoothed
from randablate.streams import Streams


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
    """A model file whose votes depend on the image and on which pixels are kept."""
    return save_kept_intensity_model(tmp_path / "model.pt", k=45)


def test_the_hand_set_model_votes_by_its_formula_and_its_counts_vary(model_file):
    images = varied_images(6)
    masks = keep_masks(100, 784, 45, torch.Generator().manual_seed(0)).view(100, 28, 28)
    encoding = get_encoding("multichannel", 1)
    model = kept_intensity_cnn(45)
    for image in images:
        coded = encoding.code(image[None]) * masks[:, None].float()
        expected = [vote(image[0].numpy(), mask.numpy(), 45) for mask in masks]
        assert model(coded).argmax(1).tolist() == expected
    # The saved file loads as that classifier; its counts vary across images and across seeds.
    smoothed, _ = load_smoothed(model_file, 45, device="cpu")
    counts = smoothed.counts(images, 300, list(range(6))).numpy()
    again = smoothed.counts(images, 300, list(range(10, 16))).numpy()
    assert len({tuple(row) for row in counts}) == 6
    assert ((counts[::2] > 0).sum(axis=1) <= 2).all()  # smooth images: one or two classes
    assert ((counts[1::2] > 0).sum(axis=1) > 3).all()  # noisy ones: spread over > 3 classes
    assert (counts[1::2] != again[1::2]).any(axis=1).all()  # and follow each image's seed


def one_by_one(model_file, images, n0, n, alpha, seed):
    """The library's certificates, each image certified alone with the CLI's seed for it."""
    smoothed, _ = load_smoothed(model_file, 45, device="cpu")
    certs = [
        smoothed.certify(images[i : i + 1], n0, n, alpha, [cli.image_seed(seed, i)])
        for i in range(len(images))
    ]
    return {
        name: np.concatenate([getattr(c, name) for c in certs])
        for name in ("guess", "p_lower", "radius", "counts_bound")
    }


def share_the_first_stream(monkeypatch):
    """Plant a grouping fault: every image of a call draws from its first image's stream.

    The fault sits where the smoothed classifier turns its `seeds` argument into streams, the
    one conversion that `counts`, `certify` and `certify_radius` all make.
    """
    as_streams = smoothing.as_streams

    def first_for_all(seeds, batch):
        streams = as_streams(seeds, batch)
        return Streams(streams.seeds[:1].repeat(batch), streams.starts[:1].repeat(batch))

    monkeypatch.setattr(smoothing, "as_streams", first_for_all)


def mix_up_the_seeds(monkeypatch, count):
    """Plant a seed mix-up: image i gets the stream of image count - 1 - i."""
    seed_of = cli.image_seed
    monkeypatch.setattr(cli, "image_seed", lambda seed, i: seed_of(seed, count - 1 - i))


# fault None: the CLI as it is, which must match; otherwise a planted fault, which must not.
@pytest.mark.parametrize("fault", [None, "seed_mixup", "shared_stream"])
def test_certify_command_prints_and_writes_the_library_certificates(
    tmp_path, model_file, capsys, monkeypatch, fault
):
    images = varied_images(6)
    labels = np.array([0, 1, 4, 5, 9, 8])  # certified right, wrong, and not certified
    torch.save(images, tmp_path / "x.pt")
    np.save(tmp_path / "y.npy", labels)
    n0, n, alpha, seed = 20, 200, 0.05, 5
    expected = one_by_one(model_file, images, n0, n, alpha, seed)
    assert set(expected["radius"] >= 0) == {True, False}
    certified_correct = (expected["guess"] == labels) & (expected["radius"] >= 0)
    assert certified_correct.any() and not certified_correct.all()
    if fault == "seed_mixup":
        mix_up_the_seeds(monkeypatch, len(images))
    elif fault == "shared_stream":
        share_the_first_stream(monkeypatch)
    args = ["certify", "--model", str(model_file), "--images", str(tmp_path / "x.pt")]
    args += ["--labels", str(tmp_path / "y.npy"), "--n0", str(n0), "--n", str(n)]
    args += ["--seed", str(seed), "--out", str(tmp_path / "c.csv")]
    assert cli.main(args) == 0
    assert "radius -1: not certified" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "c.csv")

    def compare():
        assert table["index"].tolist() == list(range(6))
        assert table["guess"].tolist() == expected["guess"].tolist()
        np.testing.assert_allclose(table["p_lower"], expected["p_lower"], rtol=1e-9)
        assert table["radius"].tolist() == expected["radius"].tolist()
        assert table["label"].tolist() == labels.tolist()
        assert table["certified_correct"].tolist() == certified_correct.tolist()

    holds_unless_planted(fault, compare)


def test_npy_images_certify_as_the_same_pt_images(tmp_path, model_file, capsys):
    images = varied_images(4, seed=2)
    torch.save(images, tmp_path / "x.pt")
    np.save(tmp_path / "x.npy", images.numpy())
    tables = []
    for name in ("x.pt", "x.npy"):
        args = ["certify", "--model", str(model_file), "--images", str(tmp_path / name)]
        args += ["--n0", "10", "--n", "100", "--out", str(tmp_path / f"{name}.csv")]
        assert cli.main(args) == 0
        tables.append(pd.read_csv(tmp_path / f"{name}.csv"))
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert tables[0]["p_lower"].nunique() > 1


# name: (files to write {name: content}, arguments after the model, words the error must hold).
# A "model" entry replaces the good model file, an "x.*" entry the images.
LABELS = ["--labels", "{tmp}/y.pt"]
BAD_INPUTS = {
    "not_a_model": ({"model": b"not a model\n"}, [], ["--model", "not a model file"]),
    "plain_state_dict": ({"model": "state_dict"}, [], ["--model", "'meta'"]),
    "missing_model": ({"model": None}, [], ["--model", "no such file"]),
    "n_zero": ({}, ["--n", "0"], ["--n", "at least 1"]),
    "n0_zero": ({}, ["--n0", "0"], ["--n0", "at least 1"]),
    "n_not_a_number": ({}, ["--n", "many"], ["--n", "at least 1"]),
    "alpha_two": ({}, ["--alpha", "2"], ["--alpha", "between 0 and 1"]),
    "alpha_zero": ({}, ["--alpha", "0"], ["--alpha", "between 0 and 1"]),
    "alpha_one": ({}, ["--alpha", "1"], ["--alpha", "between 0 and 1"]),
    "batch_size_zero": ({}, ["--batch-size", "0"], ["--batch-size", "at least 1"]),
    "unknown_device": ({}, ["--device", "gpu7"], ["--device", "unknown device 'gpu7'"]),
    "foreign_device": ({}, ["--device", "meta"], ["--device", "unsupported device"]),
    "labels_too_few": (
        {"y.pt": torch.tensor([1, 2])},
        ["--labels", "{tmp}/y.pt"],
        ["y.pt", "expected (3,)"],
    ),
    "labels_shape": (
        {"y.pt": torch.zeros(3, 1, dtype=torch.long)},
        ["--labels", "{tmp}/y.pt"],
        ["(3, 1)"],
    ),
    "labels_float": (
        {"y.pt": torch.tensor([1.0, 2.0, 3.0])},
        ["--labels", "{tmp}/y.pt"],
        ["integers"],
    ),
    "labels_range": (
        {"y.npy": np.array([1, 2, 10])},
        ["--labels", "{tmp}/y.npy"],
        ["classes 0..9"],
    ),
    "empty_images": ({"x.pt": torch.zeros(0, 1, 28, 28)}, [], ["x.pt", "no image"]),
    "uint8_images": ({"x.pt": torch.zeros(3, 1, 28, 28, dtype=torch.uint8)}, [], ["uint8"]),
    "rgb_images": ({"x.pt": torch.rand(3, 3, 28, 28)}, [], ["x.pt", "got 3"]),
    "tiny_images": ({"x.pt": torch.rand(3, 1, 4, 4)}, [], ["16 pixels", "k = 45"]),
    "pt_holds_a_dict": ({"x.pt": {"images": torch.rand(3, 1, 28, 28)}}, [], ["holds a dict"]),
    "pt_not_torch": ({"x.pt": b"\x00garbage"}, [], ["x.pt", "not a readable torch.save file"]),
    "npy_corrupt": ({"x.npy": b"\x93NUMPY garbage"}, [], ["x.npy", "not a readable NumPy"]),
    "npy_of_objects": ({"x.npy": np.array([{"a": 1}], dtype=object)}, [], ["x.npy"]),
    "wrong_suffix": ({"x.png": b"\x89PNG"}, [], ["x.png", "expected a .pt or .npy"]),
    "missing_images": ({"x.pt": None}, [], ["--images", "no such file"]),
    "missing_out_dir": ({}, ["--out", "{tmp}/nowhere/c.csv"], ["--out", "does not exist"]),
}

if not torch.cuda.is_available():
    BAD_INPUTS["cuda_absent"] = ({}, ["--device", "cuda"], ["--device", "CUDA is not available"])


def write_input(path, content) -> None:
    """Write one test input: bytes as they are, arrays with np.save, anything else torch.save."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        torch.save(content, path)


def run_cli(args, capsys) -> tuple[int, str, str]:
    """Run the command in this process; return its exit status, stdout and stderr."""
    try:
        status = cli.main(args)
    except SystemExit as exc:  # argparse's errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_every_bad_input_gives_one_error_line_and_status_2(tmp_path, model_file, capsys, case):
    files, extra, words = BAD_INPUTS[case]
    paths = {"model": model_file, "images": tmp_path / "x.pt"}
    torch.save(torch.rand(3, 1, 28, 28), paths["images"])
    for name, content in files.items():
        path = tmp_path / ("bad_model.pt" if name == "model" else name)
        if name == "model" or name.startswith("x."):
            paths["model" if name == "model" else "images"] = path
        if content is None:
            path.unlink(missing_ok=True)
        else:
            if isinstance(content, str):  # "state_dict": a plain state dict, not a model file
                content = build_model("cnn", 2, 10).state_dict()
            write_input(path, content)
    args = ["certify", "--model", str(paths["model"]), "--images", str(paths["images"])]
    args += ["--n0", "5", "--n", "5"] + [a.format(tmp=tmp_path) for a in extra]
    status, out, err = run_cli(args, capsys)
    assert status == 2, (out, err)
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert errors[0].startswith("randablate certify: error: ")
    for word in words:
        assert word in errors[0]
    assert out == ""  # nothing certified, nothing printed


def test_the_installed_command_exits_2_without_a_traceback(tmp_path):
    (tmp_path / "model.pt").write_text("not a model\n")
    torch.save(torch.rand(2, 1, 28, 28), tmp_path / "x.pt")
    command = [sys.executable, "-m", "randablate.cli", "certify", "--model"]
    command += [str(tmp_path / "model.pt"), "--images", str(tmp_path / "x.pt")]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("randablate certify: error: --model ")
    assert len(run.stderr.splitlines()) == 1, run.stderr


def test_load_model_explains_a_plain_state_dict(tmp_path):
    torch.save(build_model("cnn", 2, 10).state_dict(), tmp_path / "plain.pt")
    with pytest.raises(ValueError, match=r"plain.pt is not a model file of save_model.*'meta'"):
        load_model(tmp_path / "plain.pt")


@pytest.mark.parametrize("fault", [None, "shared_stream"])
def test_certify_logs_progress_and_batching_does_not_change_certificates(
    model_file, caplog, monkeypatch, fault
):
    smoothed, _ = load_smoothed(model_file, 45, batch_size=20, device="cpu")
    images = varied_images(5, seed=1)
    alone = [
        smoothed.certify(images[i : i + 1], 10, 190, 0.05, [derive_seed(1, i)]) for i in range(5)
    ]
    expected = [c.counts_bound[0].tolist() for c in alone]
    assert len({tuple(c) for c in expected}) == 5
    if fault == "shared_stream":
        share_the_first_stream(monkeypatch)
    seeds = [derive_seed(1, i) for i in range(5)]
    with caplog.at_level(logging.INFO, logger="randablate.smoothing"):
        grouped = smoothed.certify(images, 10, 190, 0.05, seeds)  # groups of 2 images
    assert "certified 5/5 images" in caplog.text
    matches = grouped.counts_bound.tolist() == expected and grouped.guess.tolist() == [
        int(c.guess[0]) for c in alone
    ]
    assert matches == (fault is None)
