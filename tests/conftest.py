"""Shared fixtures: real MNIST (fetched and verified once) and a briefly trained base classifier."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from randablate.data import MNIST_FILES, DataError, default_cache_dir, ensure_mnist, load_mnist
from randablate.encoding import get_encoding
from randablate.models import build_model
from randablate.training import TrainSettings, train

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
# The config file of a working directory (and of the checkout), where the Snakefile reads it.
CONFIG = Path("config") / "config.yaml"


@pytest.fixture(scope="session")
def mnist() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """MNIST train and test splits as float images in [0, 1] and labels."""
    try:
        directory = ensure_mnist(default_cache_dir())
    except DataError:
        if os.environ.get("RANDABLATE_REQUIRE_MNIST") == "1":
            raise
        pytest.skip("MNIST could not be obtained here (set RANDABLATE_REQUIRE_MNIST=1 to fail)")
    return {split: load_mnist(directory, split) for split in ("train", "test")}


@pytest.fixture(scope="session")
def trained_k45(mnist, tmp_path_factory) -> torch.nn.Module:
    """A multichannel k = 45 CNN trained for one short epoch (about 90% base accuracy)."""
    images, labels = mnist["train"]
    encoding = get_encoding("multichannel", 1)
    torch.manual_seed(0)
    model = build_model("cnn", encoding.out_channels, 10)
    settings = TrainSettings(
        epochs=1,
        optimizer="adam",
        lr_schedule=[[1, 1e-3]],
        precision="bf16",
        max_train_images=20000,
    )
    checkpoint = tmp_path_factory.mktemp("train") / "checkpoint.pt"
    train(model, encoding, 45, images, labels, settings, checkpoint)
    return model.eval()


def holds_unless_planted(planted: object, check, *args, **kwargs) -> None:
    """Run `check`: it must pass as the code is, and fail when a fault is `planted`."""
    if planted:
        with pytest.raises(AssertionError):
            check(*args, **kwargs)
    else:
        check(*args, **kwargs)


def killed_at_call(monkeypatch, owner: object, name: str, call: int):
    """Make `owner.name` raise KeyboardInterrupt at its `call`-th call (a killed job); return it."""
    real = getattr(owner, name)
    calls = {"n": 0}

    def dies(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, dies)
    return real


def snakemake(workdir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in `workdir` (which holds its own config/config.yaml)."""
    command = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE)]
    command += ["--directory", str(workdir), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def copy_checkout(copy: Path) -> Path:
    """Copy the checkout's files (tracked and untracked, not ignored) into `copy`: a fresh clone.

    Skips the test where this is not a git checkout.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    return copy


def job_counts(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table that snakemake prints."""
    table = output.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def dry_run(workdir: Path, target: str) -> tuple[dict[str, int], str]:
    """Dry-run `target` in `workdir` as on two GPUs; return its jobs per rule and its output."""
    run = snakemake(workdir, target, "-n", "--cores", "8", "--resources", "gpu=2")
    assert run.returncode == 0, run.stderr
    return job_counts(run.stdout), run.stdout


def paper_config() -> dict:
    return yaml.safe_load((REPO / CONFIG).read_text())


def write_config(workdir: Path, config: dict) -> None:
    (workdir / CONFIG).parent.mkdir(parents=True, exist_ok=True)
    (workdir / CONFIG).write_text(yaml.safe_dump(config))


TINY_TARGETS = (
    "results/tables/table1.csv",
    "results/figures/certified_accuracy_mnist.png",
    "results/tables/table2.csv",
    "results/tables/attack_soundness.csv",
    "results/figures/figure3.png",
    "results/figures/figure5.png",
    "results/figures/figure1.png",
    "results/tables/reproduction.csv",
)


def tiny_config(data_dir: Path) -> dict:
    config = paper_config()
    config.update(data_dir=str(data_dir), scale="reduced", seed=3)
    config["table1"].update(
        k=[30, 90],
        num_images=12,
        subset="first",  # the tests check the first 12 test images' labels
        shards=2,
        n0=20,
        n=200,
        n_predict=100,
        batch_size=40,  # groups of 2 images, so that a shard checkpoints mid-way
        precision="bf16",
    )
    config["figures"]["figure1_k"] = [30, 90]
    config["fpa"]["compare_k"] = [30]  # compared on one of table1.k
    config["training"]["mnist"].update(
        epochs=2,
        optimizer="adam",
        lr_schedule=[[1, 0.001]],
        precision="bf16",
        checkpoint_every=1,
        max_train_images=1500,
    )
    config["training"]["baseline_epochs"] = 1
    config["compute"]["train"].update(threads=1, mem_mb=2000)
    config["compute"]["votes"].update(threads=1, mem_mb=2000, checkpoint_seconds=0)
    config["attack"].update(
        k=30,
        num_images=2,
        shards=1,
        starts=2,
        n_query=30,
        init_steps=10,
        max_queries=300,
        batch_size=400,
        precision="bf16",
        figure3_examples=1,
        figure5_examples=1,
    )
    config["compute"]["attack"].update(threads=1, mem_mb=2000)
    # score the tiny run's 12 images (the config's min_images would refuse them)
    config["scorecard"]["min_images"] = 1
    return config


def copy_mnist(workdir: Path) -> Path:
    """Copy the verified MNIST files into `workdir`/data/mnist; return `workdir`/data."""
    data = workdir / "data"
    (data / "mnist").mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copy(default_cache_dir() / name, data / "mnist" / name)
    return data


def tiny_workdir(workdir: Path) -> Path:
    """Prepare `workdir` for a tiny pipeline run: MNIST copied in, the tiny config written."""
    write_config(workdir, tiny_config(copy_mnist(workdir)))
    return workdir


@pytest.fixture(scope="session")
def tiny_run(mnist, tmp_path_factory) -> Path:
    """A whole pipeline run on real MNIST at toy size; returns its working directory."""
    workdir = tiny_workdir(tmp_path_factory.mktemp("pipeline"))
    run = snakemake(workdir, *TINY_TARGETS, "--cores", "2", "--resources", "gpu=1")
    assert run.returncode == 0, run.stderr[-5000:]
    return workdir
