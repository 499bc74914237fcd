"""profiles/reference plans the reference run: k = 45 in both encodings at the paper's sampling."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import CONFIG, REPO, job_counts


def plan(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    """Dry-run the reference profile as in a fresh clone (workflow/, config/, profiles/)."""
    shutil.copytree(REPO / "config", workdir / "config")
    for name in ("workflow", "profiles", "resources", "src"):
        (workdir / name).symlink_to(REPO / name)
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "profiles/reference", "-n", *extra],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run


def test_reference_profile_plans_the_reference_run(tmp_path):
    run = plan(tmp_path)
    jobs = job_counts(run.stdout)
    overrides = yaml.safe_load((REPO / "profiles/reference/overrides.yaml").read_text())
    shards = overrides["table1"]["shards"]
    # k = 45, multichannel and mean encodings, and the unprotected CNN (k = 784) of Table 2
    assert jobs["train"] == 3
    assert jobs["votes_shard"] == 2 * shards and jobs["certificates"] == 2
    assert jobs["reference_export"] == 1 and jobs["table1"] == jobs["table8"] == 1
    # Table 2: only the unprotected CNN is attacked, at the paper's attack settings
    paper = yaml.safe_load((REPO / CONFIG).read_text())["attack"]
    assert overrides["attack"] == {"smoothed": False, "smoothed_images": 50}
    assert jobs["attack_shard"] == paper["shards"] and jobs["attack_gather"] == 1
    assert jobs["table2"] == jobs["reference_table2"] == 1
    assert "k784/shard-0-of-11.npz" in run.stdout and "k45/shard-0-of" not in run.stdout
    # the paper's sampling and schedule; only the listed departures
    assert overrides["scale"] == "reference" and len(overrides["departures"]) == 5
    assert overrides["table1"]["num_images"] >= 2000 and overrides["table1"]["k"] == [45]
    for key in ("n0", "n", "n_predict", "alpha", "batch_size"):
        assert key not in overrides["table1"]
    assert set(overrides["training"]["mnist"]) == {"precision"}
    assert Path(REPO / "profiles/reference/config.yaml").read_text().count("mtime") == 1


def test_smoothed_yaml_adds_the_smoothed_attack_on_50_images(tmp_path):
    # The README's command for Table 2's randomized-ablation row at the paper's settings.
    overrides = "profiles/reference/overrides.yaml"
    run = plan(tmp_path, "--configfile", overrides, "profiles/reference/smoothed.yaml")
    jobs = job_counts(run.stdout)
    shards = yaml.safe_load((REPO / CONFIG).read_text())["attack"]["shards"]
    # the same reference jobs, plus one attack job per shard of the smoothed classifier
    assert jobs["train"] == 3 and jobs["certificates"] == 2
    assert jobs["attack_shard"] == 2 * shards and jobs["attack_gather"] == 2
    assert f"k45/shard-{shards - 1}-of-{shards}.npz" in run.stdout
    assert "reference/mnist-k45/attack_smoothed_k45.csv" in run.stdout


def test_each_scale_keeps_its_own_results(tmp_path):
    # The paper's config, the quick profile and the reference profile plan disjoint trees.
    import re

    from conftest import paper_config, snakemake, write_config

    write_config(tmp_path, paper_config())
    planned = {}
    for name, extra in (
        ("paper", ()),
        ("quick", ("--profile", str(REPO / "profiles/quick"))),
        ("reference", ("--profile", str(REPO / "profiles/reference"))),
    ):
        run = snakemake(tmp_path, *extra, "-n", "--cores", "2")
        assert run.returncode == 0, run.stderr
        outputs = re.findall(r"^    output: (.*)$", run.stdout, flags=re.M)
        planned[name] = {p for line in outputs for p in line.split(", ")}
    roots = {"paper": "results/", "quick": "results/quick/", "reference": "results/reference/"}
    results = {}
    for name, paths in planned.items():
        results[name] = {p for p in paths if p.startswith("results/")}
        assert results[name] and all(p.startswith(roots[name]) for p in results[name]), name
    # the data are shared; no result is
    assert not results["paper"] & results["quick"] and not results["quick"] & results["reference"]
    assert not results["paper"] & results["reference"]
    assert not any(p.startswith(("results/quick/", "results/reference/")) for p in results["paper"])
