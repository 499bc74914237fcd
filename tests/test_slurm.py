"""The pipeline on a real one-node SLURM cluster, through snakemake-executor-plugin-slurm.

Starts its own munged, slurmctld and slurmd (tests/slurm_cluster.py), runs Table 1 with the
project's SLURM profile as the README's cluster section says, and checks that every job ran as a
SLURM job and that the models, certificates and table equal those of a local run with the same
seeds. Two sizes:

- the tiny config's Table 1 (about 2 minutes), always;
- the quick profile's Table 1 (`--configfile profiles/quick/overrides.yaml`; about 18 minutes
  with its local run), only with RANDABLATE_SLURM_QUICK=1: run twice it would take CI past its
  30-minute limit on 2 cores.

Skips, saying why, where SLURM or the plugin is not installed or the daemons cannot be started
(they need root).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import CONFIG, REPO, copy_mnist, paper_config, snakemake, tiny_workdir, write_config
from slurm_cluster import slurm_cluster, unavailable_reason

REASON = unavailable_reason()
if REASON is None and importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
    REASON = "snakemake-executor-plugin-slurm is not installed (pip install it)"
QUICK = REPO / "profiles/quick"
TABLE = "tables/table1.csv"  # under the config's results_dir


def table1_through_slurm(
    workdir: Path, tmp_path: Path, compute: dict, *extra: str, results: str = "results"
) -> list:
    """Build Table 1 in `workdir` with profiles/slurm on a fresh cluster; return exit codes.

    `compute` is the config's compute section: its threads, which the local run used, replace
    the profile's, for equal results.
    """
    threads = {"train": compute["train"]["threads"], "votes_shard": compute["votes"]["threads"]}
    with slurm_cluster(tmp_path / "slurm") as env:
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            run = snakemake(
                workdir,
                f"{results}/{TABLE}",
                "--profile",
                str(REPO / "profiles/slurm"),
                *extra,
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
                *(f"{rule}={n}" for rule, n in threads.items()),
                "--jobs",
                "4",
                timeout=3000,
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-5000:])
    # Every job ran as a SLURM job: slurmctld logs the exit status of each job it ran (squeue
    # forgets finished jobs after MinJobAge, shorter than the quick profile's run).
    log = (tmp_path / "slurm/slurmctld.log").read_text()
    return [int(code) for code in re.findall(r"_job_complete: JobId=\d+ WEXITSTATUS (\d+)", log)]


def assert_same_table1(ours: Path, local: Path, table1: dict, results: str = "results") -> None:
    """Models, certificates and Table 1 in `ours` equal those of the local run in `local`."""
    for k in table1["k"]:
        model = f"{results}/models/mnist/multichannel/cnn/k{k}/model.pt"
        mine = torch.load(ours / model, weights_only=False)["state_dict"]
        theirs = torch.load(local / model, weights_only=False)["state_dict"]
        assert all(torch.equal(theirs[name], mine[name]) for name in theirs), k
        certs = f"{results}/certificates/mnist/multichannel/cnn/k{k}/standard.csv"
        assert (ours / certs).read_text() == (local / certs).read_text()
    table = f"{results}/{TABLE}"
    pd.testing.assert_frame_equal(pd.read_csv(ours / table), pd.read_csv(local / table))


def table1_jobs(table1: dict) -> int:
    """Per k: train, the vote shards, votes_gather, certificates; then table1."""
    return len(table1["k"]) * (1 + table1["shards"] + 2) + 1


@pytest.mark.skipif(REASON is not None, reason=str(REASON))
def test_table1_through_slurm_equals_a_local_run(tiny_run, tmp_path):
    workdir = tiny_workdir(tmp_path / "work")
    config = yaml.safe_load((workdir / CONFIG).read_text())
    exits = table1_through_slurm(workdir, tmp_path, config["compute"])
    assert exits == [0] * table1_jobs(config["table1"]) and len(exits) == 11, exits
    assert_same_table1(workdir, tiny_run, config["table1"])


def quick_workdir(workdir: Path) -> Path:
    """A working directory with MNIST and the paper's config (the quick profile layers on)."""
    config = paper_config()
    config["data_dir"] = str(copy_mnist(workdir))
    write_config(workdir, config)
    return workdir


@pytest.mark.skipif(REASON is not None, reason=str(REASON))
@pytest.mark.skipif(
    os.environ.get("RANDABLATE_SLURM_QUICK") != "1",
    reason="the quick profile's Table 1 through SLURM takes about 18 minutes: "
    "set RANDABLATE_SLURM_QUICK=1 to run it",
)
def test_quick_profile_table1_through_slurm_equals_a_local_run(mnist, tmp_path):
    overrides = yaml.safe_load((QUICK / "overrides.yaml").read_text())
    results = overrides["results_dir"]
    local = quick_workdir(tmp_path / "local")
    run = snakemake(local, f"{results}/{TABLE}", "--profile", str(QUICK), timeout=3000)
    assert run.returncode == 0, run.stderr[-5000:]
    workdir = quick_workdir(tmp_path / "work")
    configfile = ("--configfile", str(QUICK / "overrides.yaml"))
    exits = table1_through_slurm(
        workdir, tmp_path, overrides["compute"], *configfile, results=results
    )
    assert exits == [0] * table1_jobs(overrides["table1"]) and len(exits) == 17, exits
    assert_same_table1(workdir, local, overrides["table1"], results)
    table = pd.read_csv(workdir / TABLE)
    assert (table["scale"] == "reduced").all() and len(table) == 3
