"""The workflow deploys as a Snakemake module and plans Table 1 from the deployment.

A deployment (what `snakedeploy deploy-workflow` writes) is a folder of its own holding
`config/config.yaml` and a `workflow/Snakefile` that declares this workflow as a module with the
deployment's config and uses all its rules. The module reads no config file of its own, finds
src/ and resources/ from its own files (workflow.current_basedir), not from the deployment's
Snakefile, and passes its src/ to jobs on PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import CONFIG, REPO, copy_checkout, job_counts, tiny_config

# What the deployment's Snakefile prints after using the module: the jobs' PYTHONPATH.
SHOW_PYTHONPATH = '\nimport os\n\nprint("PYTHONPATH=" + os.environ["PYTHONPATH"])\n'

# Snakedeploy's module declaration (its use_module.smk template), the workflow's path filled in.
MODULE = """configfile: "config/config.yaml"


module randablate:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from randablate
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A fresh copy of this checkout, the module's source."""
    return copy_checkout(tmp_path_factory.mktemp("source"))


def plan_table1(deployment: Path, source: Path) -> None:
    """Dry-run Table 1 at toy size in `deployment`; check its jobs and the jobs' PYTHONPATH."""
    config = tiny_config(deployment / "data")
    (deployment / CONFIG).write_text(yaml.safe_dump(config))
    snakefile = deployment / "workflow" / "Snakefile"
    snakefile.write_text(snakefile.read_text() + SHOW_PYTHONPATH)
    command = [sys.executable, "-m", "snakemake", "results/tables/table1.csv", "-n"]
    run = subprocess.run(
        [*command, "--cores", "2"],
        cwd=deployment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    ks, shards = config["table1"]["k"], config["table1"]["shards"]
    assert job_counts(run.stdout) == {
        "mnist": 1,
        "train": len(ks),
        "votes_shard": len(ks) * shards,
        "votes_gather": len(ks),
        "certificates": len(ks),
        "table1": 1,
        "total": 1 + len(ks) * (3 + shards) + 1,
    }
    # the module's files, found from the module: the paper's Table 1, its scripts
    assert f"{source}/resources/paper/table1_mnist_certificates.csv" in run.stdout
    # jobs import the library of the module's checkout
    shown = [line for line in run.stdout.splitlines() if line.startswith("PYTHONPATH=")]
    assert shown and shown[0].removeprefix("PYTHONPATH=").split(":")[0] == f"{source}/src"


def test_a_module_deployment_plans_table1(source, tmp_path):
    deployment = tmp_path / "deployment"
    (deployment / "workflow").mkdir(parents=True)
    shutil.copytree(source / "config", deployment / "config")
    (deployment / "workflow" / "Snakefile").write_text(
        MODULE.format(snakefile=source / "workflow" / "Snakefile")
    )
    plan_table1(deployment, source)


@pytest.mark.skipif(
    importlib.util.find_spec("snakedeploy") is None, reason="snakedeploy is not installed"
)
def test_snakedeploy_deploys_the_workflow_which_plans_table1(source, tmp_path):
    deployment = tmp_path / "deployment"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    command = [sys.executable, "-m", "snakedeploy.client", "deploy-workflow", str(source)]
    run = subprocess.run(
        [*command, str(deployment), "--tag", head, "--name", "randablate"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    # snakedeploy copies config/ and profiles/ and declares the module with the copied config
    assert (deployment / CONFIG).read_text() == (source / CONFIG).read_text()
    assert (deployment / "profiles" / "quick" / "overrides.yaml").is_file()
    snakefile = deployment / "workflow" / "Snakefile"
    text = snakefile.read_text()
    assert 'configfile: "config/config.yaml"' in text and "use rule * from randablate" in text
    # From a local folder (no GitHub here) snakedeploy 0.17 writes the Snakefile's path relative
    # to that folder, which Snakemake would read from the deployment's workflow/: made absolute.
    assert text.count('"workflow/Snakefile"') == 1
    snakefile.write_text(text.replace('"workflow/Snakefile"', f'"{source}/workflow/Snakefile"'))
    plan_table1(deployment, source)
