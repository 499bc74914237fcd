"""Every table and figure of the paper is a target: dry runs at the paper's config, data errors."""

from __future__ import annotations

import pytest
import yaml
from conftest import CONFIG, dry_run, paper_config, snakemake, write_config

ALL_DATA = {"cifar10": {"dir": None, "download": True}}


@pytest.fixture
def paper_workdir(tmp_path):
    """A working directory with the paper's config, CIFAR-10 downloadable, an ImageNet folder."""
    imagenet = tmp_path / "imagenet"
    for split in ("train", "val"):
        (imagenet / split / "n01440764").mkdir(parents=True)
    config = paper_config()
    config["cifar10"]["download"] = True
    config["imagenet"]["dir"] = str(imagenet)
    write_config(tmp_path, config)
    return tmp_path


# target: jobs per rule that the paper's settings imply
EXPECTED = {
    "results/tables/table1.csv": {"train": 20, "votes_shard": 400, "certificates": 20},
    "results/tables/table2.csv": {"train": 2, "attack_shard": 22},
    # ResNet18, k = 25 ... 150, 20 shards of the 10,000 test images each
    "results/tables/table3.csv": {"cifar10": 1, "train": 6, "votes_shard": 120},
    "results/tables/table4.csv": {"train": 6, "base_accuracy": 6},
    "results/tables/table5.csv": {"train": 6, "base_accuracy": 6},
    # ImageNet: 3 values of k, the authors' 400 validation images in 20 shards
    "results/tables/table6.csv": {"imagenet_subset": 1, "train": 3, "votes_shard": 60},
    # MNIST k = 45 and ImageNet k = 1000, each counted again with Lee et al.'s sampling: 20 shards
    # per model and sampling, and certificates from each
    "results/tables/table7.csv": {"train": 2, "votes_shard": 80, "certificates": 4},
    # two encodings at MNIST k = 45 and CIFAR-10 k = 75
    "results/tables/table8.csv": {"train": 4, "votes_shard": 80, "certificates": 4},
    "results/tables/discussion.csv": {"discussion": 1},
    "results/tables/discussion_imagenet.csv": {"train": 3, "certificates": 3},
    "results/figures/figure1.png": {"train": 5, "certificates": 5, "figure1": 1},
    "results/figures/figure2.png": {"figure2": 1},
    "results/figures/figure3.png": {"attack_shard": 11, "figure3": 1},
    "results/figures/figure4.png": {"figure4": 1},
    "results/figures/figure5.png": {"attack_shard": 11, "figure5": 1},
    "results/figures/certified_accuracy_mnist.png": {"train": 20},
    "results/figures/certified_accuracy_cifar10.png": {"train": 6},
    "results/figures/certified_accuracy_imagenet.png": {"train": 3},
    # beyond the paper: four certificates from the same votes as Tables 1, 3 and 6
    "results/tables/certificates_compared_mnist.csv": {
        "train": 20,
        "votes_shard": 400,
        "certificates_compared": 1,
    },
    "results/figures/certificates_compared_cifar10.png": {
        "votes_shard": 120,
        "certificates_compared": 1,
        "figure_certificates_compared": 1,
    },
    "results/figures/certificates_compared_imagenet.png": {"train": 3, "votes_shard": 60},
    # beyond the paper, part two: k = 45 (standard and Lee et al.'s sampling, 20 shards each)
    # beside feature partition aggregation at T = 25, 60 and 80
    "results/figures/l0_certificates_compared_mnist.png": {
        "train": 1,
        "votes_shard": 40,
        "fpa_train": 3,
        "fpa_votes": 3,
        "l0_certificates_compared": 1,
        "figure_l0_certificates_compared": 1,
    },
}


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_every_table_and_figure_dry_runs_at_the_papers_config(paper_workdir, target):
    counts, _ = dry_run(paper_workdir, target)
    for rule, expected in EXPECTED[target].items():
        assert counts.get(rule) == expected, (rule, counts)


def test_table7_counts_both_samplings_with_the_same_rules(paper_workdir):
    counts, output = dry_run(paper_workdir, "results/tables/table7.csv")
    assert not any(rule.endswith("_lee") for rule in counts)
    for sampling in ("standard", "lee"):
        mnist = f"results/votes/mnist/multichannel/cnn/k45/{sampling}"
        imagenet = f"results/votes/imagenet/multichannel/imagenet_resnet50/k1000/{sampling}"
        for votes in (mnist, imagenet):
            assert f"{votes}/shard-19-of-20.npz" in output and f"{votes}/votes.npz" in output
        assert f"results/certificates/mnist/multichannel/cnn/k45/{sampling}.csv" in output


def test_default_target_builds_every_table_the_data_allow(paper_workdir):
    counts, output = dry_run(paper_workdir, "all")
    for number in range(1, 9):
        assert f"results/tables/table{number}.csv" in output
    assert counts["reproduction"] == 1
    assert counts["figure_certified_accuracy"] == 3
    assert counts["certificates_compared"] == counts["figure_certificates_compared"] == 3
    assert counts["fpa_train"] == counts["fpa_votes"] == 3
    assert counts["l0_certificates_compared"] == counts["figure_l0_certificates_compared"] == 1
    # 22 MNIST models (20 for Table 1, the mean encoding, the unprotected CNN), 13 CIFAR-10
    # (ResNet18 and ResNet50 at 6 values of k, the mean encoding) and 3 ImageNet models
    assert counts["train"] == 22 + 13 + 3


def test_without_imagenet_its_targets_fail_naming_the_key_and_others_build(tmp_path):
    write_config(tmp_path, paper_config())
    run = snakemake(tmp_path, "results/tables/table6.csv", "-n")
    assert run.returncode != 0
    assert "imagenet.dir is not set: expected a directory holding train/ and val/" in run.stdout
    counts, _ = dry_run(tmp_path, "all")
    assert "table6" not in counts and "table3" not in counts  # no CIFAR-10 configured either
    assert counts["table1"] == counts["table2"] == counts["reproduction"] == 1


def test_imagenet_dir_without_val_is_named(tmp_path):
    (tmp_path / "imagenet" / "train" / "n01440764").mkdir(parents=True)
    config = paper_config()
    config["imagenet"]["dir"] = str(tmp_path / "imagenet")
    write_config(tmp_path, config)
    run = snakemake(tmp_path, "results/tables/table6.csv", "-n")
    assert run.returncode != 0
    assert "has no val/ folder" in run.stdout and "imagenet.dir" in run.stdout


# The five files of checkpoints/ in the authors' repository (alevine0/randomizedAblation).
AUTHORS_FILES = [
    "mnist_lr_0.001_keep_45_epoch_399_resume_mnist_lr_0.01_keep_45_epoch_199.pth.pth",
    "mnist_mean_lr_0.001_keep_45_epoch_399_resume_mnist_mean_lr_0.01_keep_45_epoch_199.pth.pth",
    "cifar_lr_0.001_regularization_0.0005_model_resnet18_keep_75_epoch_399_resume_"
    "cifar_lr_0.01_regularization_0.0005_model_resnet18_keep_75_epoch_199.pth.pth",
    "cifar_mean_lr_0.001_regularization_0.0005_model_resnet18_keep_75_epoch_399_resume_"
    "cifar_mean_lr_0.01_regularization_0.0005_model_resnet18_keep_75_epoch_199.pth.pth",
    "imagenet_plain_lr_0.001_regularization_0.0001_model_resnet50_keep_1000_epoch_35.pth",
]


def test_the_authors_checkpoints_replace_training_of_the_models_they_cover(paper_workdir):
    checkpoints = paper_workdir / "checkpoints"
    checkpoints.mkdir()
    for name in AUTHORS_FILES:
        (checkpoints / name).write_bytes(b"")
    config = yaml.safe_load((paper_workdir / CONFIG).read_text())
    config["authors_checkpoints"]["dir"] = str(checkpoints)
    config["table1"]["k"] = config["figures"]["figure1_k"] = [45]
    write_config(paper_workdir, config)
    expected = {
        "results/tables/table1.csv": {"import_authors_checkpoint": 1, "train": None},
        # both encodings at MNIST k = 45 and CIFAR-10 k = 75: all four are the authors'
        "results/tables/table8.csv": {"import_authors_checkpoint": 4, "train": None},
        # k = 75 of k = 25 ... 150, and k = 1000 of k = 500, 1000, 2000
        "results/tables/table3.csv": {"import_authors_checkpoint": 1, "train": 5},
        "results/tables/table6.csv": {"import_authors_checkpoint": 1, "train": 2},
    }
    for target, jobs in expected.items():
        counts, output = dry_run(paper_workdir, target)
        for rule, count in jobs.items():
            assert counts.get(rule) == count, (target, rule, counts)
    assert "results/models/imagenet/multichannel/imagenet_resnet50/k1000/model.pt" in output


def test_bad_authors_checkpoints_and_imagenet_subset_settings_are_named(tmp_path):
    config = paper_config()
    config["authors_checkpoints"]["dir"] = str(tmp_path / "nowhere")
    write_config(tmp_path, config)
    run = snakemake(tmp_path, "results/tables/table1.csv", "-n")
    assert run.returncode != 0
    assert "authors_checkpoints.dir = " in run.stdout + run.stderr
    assert "expected a directory holding the authors' released checkpoints" in (
        run.stdout + run.stderr
    )
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "model.pth").write_bytes(b"")
    run = snakemake(tmp_path, "results/tables/table1.csv", "-n")
    assert run.returncode != 0 and "it has no file named as theirs" in run.stdout + run.stderr
    config = paper_config()
    config["imagenet"]["num_images"] = 401
    write_config(tmp_path, config)
    run = snakemake(tmp_path, "results/tables/table1.csv", "-n")
    assert run.returncode != 0
    assert "imagenet.num_images = 401; expected at most 400 while imagenet.subset is authors" in (
        run.stdout + run.stderr
    )


@pytest.mark.parametrize(("group_size", "groups"), [(3, 7), (20, 1), (8, 3)])
def test_table1_models_train_in_groups_of_training_group_size(paper_workdir, group_size, groups):
    config = yaml.safe_load((paper_workdir / CONFIG).read_text())
    config["training"]["group_size"] = group_size
    write_config(paper_workdir, config)
    counts, output = dry_run(paper_workdir, "results/tables/table1.csv")
    grouped = {rule: n for rule, n in counts.items() if rule.startswith("train_group_")}
    # 20 models: ceil(20 / size) jobs, the last one alone (rule train) when 20 % size is 1
    singles = counts.get("train", 0)
    assert len(grouped) + singles == groups == -(-20 // group_size)
    assert all(n == 1 for n in grouped.values())
    assert singles == (1 if 20 % group_size == 1 else 0)
    assert counts["votes_shard"] == 400  # downstream unchanged: the same model.pt paths
    for k in (5, 45, 100):
        assert f"results/models/mnist/multichannel/cnn/k{k}/model.pt" in output
    if group_size == 3:
        assert "train_group_k5_to_k15" in grouped and "train_group_k95_to_k100" in grouped
    # Table 2: k = 45 comes from its group; the unprotected CNN (k = 784) trains in its own job
    counts, _ = dry_run(paper_workdir, "results/tables/table2.csv")
    assert counts.get("train") == 1
    assert sum(n for rule, n in counts.items() if rule.startswith("train_group_")) == 1
