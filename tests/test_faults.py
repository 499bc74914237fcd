"""Jobs killed mid-way (SIGKILL) resume from their checkpoints and end with identical results."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
from conftest import TINY_TARGETS, snakemake, tiny_workdir

from randablate.failpoints import ENV

MODEL = "results/models/mnist/multichannel/cnn/k{k}"
VOTES = "results/votes/mnist/multichannel/cnn/k{k}/standard"
ATTACK = "results/attack/mnist/multichannel/cnn/k{k}"


def run_with_failpoint(workdir, failpoint):
    env_before = os.environ.get(ENV)
    os.environ[ENV] = failpoint
    try:
        return snakemake(
            workdir, *TINY_TARGETS, "--cores", "2", "--resources", "gpu=1", "--keep-going"
        )
    finally:
        if env_before is None:
            del os.environ[ENV]
        else:
            os.environ[ENV] = env_before


def test_killed_training_and_vote_jobs_resume_to_identical_results(tiny_run, tmp_path):
    workdir = tiny_workdir(tmp_path)

    # 1. Every training job is SIGKILLed right after its epoch-1 checkpoint.
    run = run_with_failpoint(workdir, "train-epoch:1")
    assert run.returncode != 0
    for k in (30, 90):
        assert (workdir / MODEL.format(k=k) / "checkpoint.pt").exists()
        assert not (workdir / MODEL.format(k=k) / "model.pt").exists()  # nothing half-written

    # 2. The same command again: training resumes at epoch 2; every vote shard is then
    #    SIGKILLed after its first checkpointed group of images, every attack shard after its
    #    first checkpointed start, in the middle of its first image.
    run = run_with_failpoint(workdir, "votes-group:1,attack-start:1")
    assert run.returncode != 0
    train_log = (workdir / f"logs/{MODEL.format(k=30)}/train.log").read_text()
    assert "resuming from" in train_log and "after epoch 1" in train_log
    assert "epoch 1/2" not in train_log
    for shard in (VOTES.format(k=30) + "/shard-0-of-2", ATTACK.format(k=30) + "/shard-0-of-1"):
        assert (workdir / f"{shard}.partial.npz").exists(), shard
        assert not (workdir / f"{shard}.npz").exists(), shard

    # 3. Again, with nothing killed: the shards resume and the pipeline finishes.
    run = snakemake(workdir, *TINY_TARGETS, "--cores", "2", "--resources", "gpu=1")
    assert run.returncode == 0, run.stderr[-3000:]
    shard_log = (workdir / f"logs/{VOTES.format(k=30)}/shard-0-of-2.log").read_text()
    assert "resuming from" in shard_log and "2 of 6 images already counted" in shard_log
    attack_log = (workdir / f"logs/{ATTACK.format(k=30)}/shard-0-of-1.log").read_text()
    assert "0 of 2 images already attacked; 1 of 2 starts of the next done" in attack_log
    assert "image 0 start 1/2" in attack_log and "from the checkpoint)" in attack_log

    # Results equal those of an uninterrupted run with the same config and seeds.
    for k in (30, 90):
        killed = torch.load(workdir / MODEL.format(k=k) / "model.pt", weights_only=False)
        clean = torch.load(tiny_run / MODEL.format(k=k) / "model.pt", weights_only=False)
        for name, tensor in clean["state_dict"].items():
            assert torch.equal(tensor, killed["state_dict"][name]), (k, name)
        path = f"results/certificates/mnist/multichannel/cnn/k{k}/standard.csv"
        assert (workdir / path).read_text() == (tiny_run / path).read_text()
    table = "results/tables/table1.csv"
    pd.testing.assert_frame_equal(pd.read_csv(workdir / table), pd.read_csv(tiny_run / table))
    with (
        np.load(workdir / ATTACK.format(k=30) / "attack.npz") as killed,
        np.load(tiny_run / ATTACK.format(k=30) / "attack.npz") as clean,
    ):
        for name in ("index", "status", "l0", "best_start", "adv_image", "adv_counts"):
            assert np.array_equal(killed[name], clean[name]), name
