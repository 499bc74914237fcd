"""The pipeline on a real one-node SLURM cluster, through snakemake-executor-plugin-slurm.

Starts its own munged, slurmctld and slurmd (tests/slurm_cluster.py), runs the tiny config's
Table 1 with the project's SLURM profile as the README's cluster section says, and checks the
results equal those of a local run with the same seeds. Skips, saying why, where SLURM or the
plugin is not installed or the daemons cannot be started (they need root).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess

import pandas as pd
import pytest
import torch
from conftest import REPO, snakemake, tiny_workdir
from slurm_cluster import slurm_cluster, unavailable_reason

REASON = unavailable_reason()
if REASON is None and importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
    REASON = "snakemake-executor-plugin-slurm is not installed (pip install it)"


@pytest.mark.skipif(REASON is not None, reason=str(REASON))
def test_table1_through_slurm_equals_a_local_run(tiny_run, tmp_path):
    workdir = tiny_workdir(tmp_path / "work")
    with slurm_cluster(tmp_path / "slurm") as env:
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            run = snakemake(
                workdir,
                "results/tables/table1.csv",
                "--profile",
                str(REPO / "profiles/slurm"),
                # The site-specific part of the profile, as README's cluster section says:
                # this cluster's partition is "main" and its node has no GPU.
                "--default-resources",
                "slurm_partition=main",
                "runtime=20",
                "mem_mb=1000",
                "--set-resources",
                "train:gpu=0",
                "votes_shard:gpu=0",
                "--set-threads",
                "train=1",
                "votes_shard=1",
                "--jobs",
                "4",
                timeout=1500,
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-5000:])
        # Every job ran as a SLURM job: finished jobs stay listed for MinJobAge (300 s).
        listed = subprocess.run(
            ["squeue", "-h", "-t", "all", "-o", "%T %j"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        states = [line.split()[0] for line in listed if line.strip()]
        # provenance, 2 x train, 4 x votes_shard, 2 x votes_gather, 2 x certificates, table1
        assert states.count("COMPLETED") == 12, listed

    for k in (30, 90):
        model = f"results/models/mnist/multichannel/cnn/k{k}/model.pt"
        ours = torch.load(workdir / model, weights_only=False)["state_dict"]
        local = torch.load(tiny_run / model, weights_only=False)["state_dict"]
        assert all(torch.equal(local[name], ours[name]) for name in local), k
        certs = f"results/certificates/mnist/multichannel/cnn/k{k}.csv"
        assert (workdir / certs).read_text() == (tiny_run / certs).read_text()
    table = "results/tables/table1.csv"
    pd.testing.assert_frame_equal(pd.read_csv(workdir / table), pd.read_csv(tiny_run / table))
