"""randablate.config: the checks a JSON schema cannot make, each naming the key."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import CONFIG, REPO, SNAKEFILE, write_config
from scipy import stats

from randablate.certificates import least_votes_to_decide
from randablate.config import (
    ConfigError,
    attacked_images,
    check_config,
    num_images,
    training_groups,
)

PAPER = yaml.safe_load((REPO / CONFIG).read_text())


def changed(change) -> dict:
    config = copy.deepcopy(PAPER)
    change(config)
    return config


def test_the_papers_config_passes_and_counts_its_images():
    check_config(PAPER)
    assert num_images(PAPER, "mnist") == 10_000 and num_images(PAPER, "imagenet") == 400
    assert num_images(changed(lambda c: c["table3"].update(num_images=50)), "cifar10") == 50


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["table1"].update(num_images=20_000), "table1.num_images = 20000; expected"),
        (lambda c: c["table1"].update(shards=20_000), "table1.shards = 20000; expected at most"),
        (lambda c: c["table6"].update(shards=500), "table6.shards = 500; expected at most"),
        (
            lambda c: c["training"]["imagenet"].update(lr_schedule=[[2, 0.1]]),
            "training.imagenet.lr_schedule",
        ),
        (
            lambda c: c["training"]["mnist"].update(lr_schedule=[[1, 0.1], [9, 0.1], [5, 1]]),
            "increasing start epochs",
        ),
        (lambda c: c["mnist"].update(source_dir="/no/such/dir"), "mnist.source_dir = '/no/such"),
        (lambda c: c["imagenet"].update(subset="authors", num_images=500), "at most 400"),
        (lambda c: c["attack"].update(num_images=20_000), "attack.num_images = 20000"),
        (lambda c: c["attack"].update(shards=300), "attack.shards = 300; expected at most"),
        (
            lambda c: c["attack"].update(smoothed_images=276),
            "attack.smoothed_images = 276; expected at most attack.num_images (275)",
        ),
        (
            lambda c: c["attack"].update(smoothed_images=10, shards=11),
            "attack.shards = 11; expected at most the number of images a model is attacked on (10",
        ),
        (lambda c: c["attack"].update(n_query=5), "attack.n_query = 5; expected at least 6"),
        (
            lambda c: (c["training"].update(baseline_epochs=3), c["attack"].update(baseline_k=45)),
            "training.baseline_epochs = 3",
        ),
        (
            lambda c: c["fpa"].update(compare_k=[45, 47]),
            "fpa.compare_k = [45, 47]; expected values of table1.k",
        ),
    ],
)
def test_each_bad_value_is_refused_naming_its_key(change, message):
    with pytest.raises(ConfigError, match="invalid config") as error:
        check_config(changed(change))
    assert message in str(error.value)


def test_the_smoothed_classifier_can_be_attacked_on_fewer_images_than_the_cnn():
    assert attacked_images(PAPER, 45) == attacked_images(PAPER, 784) == 275
    subset = changed(lambda c: c["attack"].update(smoothed_images=50))
    check_config(subset)
    assert attacked_images(subset, 45) == 50  # attack.k: the smoothed classifier
    assert attacked_images(subset, 784) == 275  # attack.baseline_k: the unprotected CNN


def figure1_models(snakefile: Path, workdir: Path) -> set[int]:
    """The k of every MNIST model a dry run of Figure 1 trains, with table1.k = [45]."""
    write_config(workdir, changed(lambda c: c["table1"].update(k=[45])))
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-n", "--cores", "1"]
    command += ["--directory", str(workdir), "results/figures/figure1.png"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    return {int(k) for k in re.findall(r"models/mnist/\S+/k(\d+)/model\.pt", run.stdout)}


def _couples_figure1_to_table1(tmp_path: Path) -> Path:
    """A planted fault: a copy of the workflow whose Figure 1 takes Table 1's models."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "workflow", repo / "workflow")
    rules = repo / "workflow/rules/figures.smk"
    text = rules.read_text()
    own, table1 = 'config["figures"]["figure1_k"]', 'config["table1"]["k"]'
    coupled = text.replace(f'"mnist", {own}', f'"mnist", {table1}')
    assert coupled != text
    rules.write_text(coupled)
    return repo / "workflow" / "Snakefile"


@pytest.mark.parametrize("planted", [None, "figure 1 takes table 1's models"])
def test_figure1_no_longer_couples_table1(tmp_path, planted):
    # Figure 1 trains the models it needs: table1.k = [45] with other figure1_k is fine.
    config = changed(lambda c: c["table1"].update(k=[45]))
    check_config(config)
    wanted = set(config["figures"]["figure1_k"])
    assert wanted - {45}  # the check means something only when Figure 1 needs other models
    workdir = tmp_path / "work"
    workdir.mkdir()
    snakefile = _couples_figure1_to_table1(tmp_path) if planted else SNAKEFILE
    assert (figure1_models(snakefile, workdir) == wanted) is (planted is None)


def test_least_votes_agree_with_the_binomial_test():
    for alpha in (0.5, 0.1, 0.05, 0.01, 0.001, 1e-6, 2**-9):
        least = least_votes_to_decide(alpha)
        assert stats.binomtest(least, least, 0.5).pvalue <= alpha
        assert stats.binomtest(least - 1, least - 1, 0.5).pvalue > alpha or least == 1
    with pytest.raises(ValueError, match="alpha"):
        least_votes_to_decide(1.0)


def test_config_checks_and_dataset_facts_do_not_import_torch():
    code = "import sys, randablate.config, randablate.datasets; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_training_groups_gather_equal_settings_in_increasing_k():
    paper = {"epochs": 400, "lr": 0.01}
    short = {"epochs": 20, "lr": 0.01}
    models = [(k, paper) for k in (50, 5, 20, 10, 45)] + [(784, short), (30, short)]
    assert training_groups(models, 2) == [[5, 10], [20, 45], [30, 784], [50]]
    assert training_groups(models, 10) == [[5, 10, 20, 45, 50], [30, 784]]
    assert training_groups(models, 1) == [[5], [10], [20], [30], [45], [50], [784]]
    with pytest.raises(ConfigError, match=r"training\.group_size"):
        training_groups(models, 0)
