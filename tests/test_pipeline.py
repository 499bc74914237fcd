"""The Snakemake pipeline: dry run at the paper's config, config errors, a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import (
    CONFIG,
    REPO,
    TINY_TARGETS,
    dry_run,
    job_counts,
    paper_config,
    snakemake,
    tiny_workdir,
    write_config,
)
from statsmodels.stats.proportion import proportion_confint


def test_dry_run_of_table1_at_the_papers_config(tmp_path):
    write_config(tmp_path, paper_config())
    counts, output = dry_run(tmp_path, "results/tables/table1.csv")
    # 20 values of k; 20 shards of the 10,000 test images each.
    assert counts["train"] == 20
    assert counts["votes_shard"] == 400
    assert counts["votes_gather"] == counts["certificates"] == 20
    assert counts["table1"] == 1
    assert "shard-19-of-20.npz" in output and "k100/model.pt" in output


def test_quick_profile_dry_run_covers_every_target(tmp_path):
    write_config(tmp_path, paper_config())
    run = snakemake(tmp_path, "--profile", str(REPO / "profiles/quick"), "-n")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    # 3 values of k, 2 shards each; and k = 45 with Lee et al.'s sampling, 2 shards
    assert counts["votes_shard"] == 8 and counts["table1"] == 1
    assert counts["figure_certified_accuracy"] == 1
    # every target that needs only MNIST: Tables 1 and 2, Figures 1-5, the Discussion, the scorecard
    for rule in ("table2", "figure1", "figure2", "figure3", "figure4", "figure5", "discussion"):
        assert counts[rule] == 1, rule
    assert counts["reproduction"] == 1 and "table3" not in counts and "table6" not in counts
    # the L0 certificates compared: FPA at T = 5 and 10, Lee et al.'s sampling for k = 45
    assert counts["fpa_train"] == counts["fpa_votes"] == 2
    assert counts["l0_certificates_compared"] == counts["figure_l0_certificates_compared"] == 1
    assert counts["votes_gather"] == 4  # 3 values of k, and k = 45 again with Lee's sampling


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c.update(epochs=3), "'epochs' was unexpected"),
        (lambda c: c["table1"].update(n="many"), "'many' is not of type 'integer'"),
        (
            lambda c: c["table1"].update(k=[45, 900]),
            "table1.k = [45, 900]; expected each at most d = 784",
        ),
        (
            lambda c: c["table1"].update(alpha=1.5),
            ("1.5 is greater than or equal to the maximum of 1", "instance['table1']['alpha']"),
        ),
        (
            lambda c: c["table1"].update(alpha=0),
            ("0 is less than or equal to the minimum of 0", "instance['table1']['alpha']"),
        ),
        (lambda c: c["table1"].update(encoding="zero"), "'zero' is not one of"),
        (lambda c: c["training"]["mnist"].update(optimizer="rmsprop"), "'rmsprop' is not one of"),
        (lambda c: c["table1"].update(shards=20000), "table1.shards = 20000; expected at most"),
        (
            lambda c: c["table3"].update(k=[25, 2000]),
            "table3.k = [25, 2000]; expected each at most d = 1024",
        ),
        (lambda c: c["table6"].update(alpha=2), ("instance['table6']['alpha']",)),
        (
            lambda c: c["table7"].update(imagenet_k=60000),
            "table7.imagenet_k = 60000; expected at most d = 50176",
        ),
        (lambda c: c["table3"].update(arch="cnn"), "'cnn' is not one of"),
        (
            lambda c: c["fpa"].update(groups=[25, 900]),
            "fpa.groups = [25, 900]; expected each at most d = 784",
        ),
        (lambda c: c["fpa"]["training"].update(lr_schedule="step"), "'step' is not one of"),
        (lambda c: c["fpa"].update(compare_k=[44]), "fpa.compare_k = [44]; expected values"),
        (lambda c: c["table3"].update(colour=1), "'colour' was unexpected"),
        (lambda c: c["training"]["cifar10"].update(augmentation="mixup"), "'mixup' is not one"),
        (
            lambda c: c["training"]["imagenet"].update(lr_schedule=[[2, 0.1]]),
            "training.imagenet.lr_schedule",
        ),
    ],
)
def test_bad_config_fails_before_any_job_naming_the_key(tmp_path, change, expected):
    config = paper_config()
    change(config)
    write_config(tmp_path, config)
    run = snakemake(tmp_path, "-n", "--cores", "1")
    assert run.returncode != 0
    for text in (expected,) if isinstance(expected, str) else expected:
        assert text in run.stdout + run.stderr, run.stdout + run.stderr
    assert not (tmp_path / "results").exists()


def test_tiny_pipeline_builds_table1_beside_the_papers_values(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/table1.csv")
    assert table["k"].tolist() == [30, 90]
    assert (table["images"] == 12).all()
    assert (table[["n0", "n", "n_predict"]] == [20, 200, 100]).all().all()
    assert (table["scale"] == "reduced").all()
    columns = list(table.columns)  # each paper column right after ours; no per-row training text
    for ours in ("accuracy_pct", "abstained_pct", "median_certified_robustness_pixels"):
        assert columns[columns.index(ours) + 1] == f"paper_{ours}"
    assert "training" not in columns
    paper = pd.read_csv(REPO / "resources/paper/table1_mnist_certificates.csv").set_index("k")
    assert table["paper_accuracy_pct"].tolist() == paper.loc[[30, 90], "accuracy_pct"].tolist()
    assert table["accuracy_pct"].between(0, 100).all()
    assert (tiny_run / "results/figures/certified_accuracy_mnist.png").stat().st_size > 10_000


def test_tiny_pipeline_certificates_follow_from_their_raw_counts(tiny_run):
    certs = pd.read_csv(tiny_run / "results/certificates/mnist/multichannel/cnn/k30/standard.csv")
    assert certs["index"].tolist() == list(range(12))
    labels = np.frombuffer(
        (tiny_run / "data/mnist/t10k-labels-idx1-ubyte").read_bytes()[8:20], dtype=np.uint8
    )
    assert certs["label"].tolist() == labels.tolist()
    for _, row in certs.iterrows():
        select = [row[f"select_{c}"] for c in range(10)]
        bound = [row[f"bound_{c}"] for c in range(10)]
        assert sum(select) == 20 and sum(bound) == 200
        guess = int(np.argmax(select))
        lower = proportion_confint(bound[guess], 200, alpha=0.1, method="beta")[0]
        lower = 0.0 if bound[guess] == 0 else lower
        radius = max(
            (
                r
                for r in range(785)
                if lower - 1 + math.comb(784 - r, 30) / math.comb(784, 30) > 0.5
            ),
            default=-1,
        )
        assert (row["guess"], row["radius"]) == (guess, radius)
        assert row["p_lower"] == pytest.approx(lower, rel=1e-9)


def test_tiny_pipeline_writes_logs_and_reruns_nothing(tiny_run):
    train_log = tiny_run / "logs/results/models/mnist/multichannel/cnn/k30/train.log"
    assert "epoch 2/2" in train_log.read_text()
    assert "device: cpu" in train_log.read_text()
    shard_log = tiny_run / "logs/results/votes/mnist/multichannel/cnn/k90/standard/shard-1-of-2.log"
    assert "counted 6/6 images" in shard_log.read_text()
    again = snakemake(tiny_run, *TINY_TARGETS, "-n", "--cores", "2")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_tiny_pipeline_report_holds_table_and_figure(tiny_run):
    run = snakemake(tiny_run, *TINY_TARGETS, "--report", "report.html", timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    html = (tiny_run / "report.html").read_text()
    assert "table1.csv" in html and "certified_accuracy_mnist.png" in html
    assert "REDUCED" in html


def test_tiny_pipeline_scorecard_puts_every_table1_number_beside_the_papers(tiny_run):
    card = pd.read_csv(tiny_run / "results/tables/reproduction.csv")
    table1 = pd.read_csv(tiny_run / "results/tables/table1.csv").set_index("k")
    rows = card[card["table"] == "table1"]
    assert sorted(set(rows["row"])) == ["k=30", "k=90"]
    quantities = {"accuracy_pct", "abstained_pct", "median_certified_robustness_pixels"}
    assert set(rows["quantity"]) == quantities
    accuracy = rows[(rows["row"] == "k=30") & (rows["quantity"] == "accuracy_pct")].iloc[0]
    assert accuracy["ours"] == table1.loc[30, "accuracy_pct"]
    assert accuracy["paper"] == table1.loc[30, "paper_accuracy_pct"]
    count = round(accuracy["ours"] * 12 / 100)
    low, high = proportion_confint(count, 12, alpha=0.05, method="beta")
    assert accuracy["ours_low"] == pytest.approx(100 * low, abs=1e-6)
    assert accuracy["ours_high"] == pytest.approx(100 * high, abs=1e-6)
    inside = 100 * low - 2 <= accuracy["paper"] <= 100 * high + 2
    assert bool(accuracy["within"]) == inside
    assert set(card["table"]) == {"table1", "discussion"}  # Table 2 scores k = 45 only
    assert set(card["scale"]) == {"reduced"}


def test_a_group_job_trains_and_saves_every_member_as_per_k_jobs_do(mnist, tmp_path):
    from randablate.models import load_model

    models = {}
    for group_size in (2, 1):
        workdir = tiny_workdir(tmp_path / f"group{group_size}")
        config = yaml.safe_load((workdir / CONFIG).read_text())
        config["training"]["group_size"] = group_size
        config["training"]["mnist"].update(epochs=1, max_train_images=300, precision="fp32")
        write_config(workdir, config)
        targets = [f"results/models/mnist/multichannel/cnn/k{k}/model.pt" for k in (30, 90)]
        run = snakemake(workdir, *targets, "--cores", "2", "--resources", "gpu=1")
        assert run.returncode == 0, run.stderr[-5000:]
        counts = job_counts(run.stderr)
        assert counts.get("train_group_k30_to_k90", 0) == (group_size == 2)
        assert counts.get("train", 0) == (0 if group_size == 2 else 2)
        models[group_size] = [load_model(workdir / target) for target in targets]
        if group_size == 2:
            group_logs = workdir / "logs/results/models/mnist/multichannel/cnn"
            assert "training 2 models together" in (group_logs / "train-k30-to-k90.log").read_text()
            benchmark = "logs/benchmarks/results/models/mnist/multichannel/cnn/train-k30-to-k90.tsv"
            assert (workdir / benchmark).exists()
    for (grouped, meta), (alone, meta_alone) in zip(models[2], models[1], strict=True):
        # the same metadata (seed, settings, history's epochs, provenance's keys) and weights
        assert (meta["k"], meta["seed"], meta["training"]) == (
            meta_alone["k"],
            meta_alone["seed"],
            meta_alone["training"],
        )
        assert set(meta["provenance"]) == set(meta_alone["provenance"])
        assert [h["epoch"] for h in meta["history"]] == [1]
        a = torch.cat([p.detach().flatten() for p in grouped.parameters()])
        b = torch.cat([p.detach().flatten() for p in alone.parameters()])
        assert float((a - b).norm() / b.norm()) < 1e-4


def test_gpu_profile_trains_table1_in_one_job_at_the_papers_settings(tmp_path):
    write_config(tmp_path, paper_config())
    target = "results/gpu/tables/table1.csv"
    run = snakemake(tmp_path, "--profile", str(REPO / "profiles/gpu"), target, "-n")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    assert counts["train_group_k5_to_k100"] == 1 and "train" not in counts
    assert counts["votes_shard"] == 400 and counts["table1"] == 1
    assert "results/gpu/models/mnist/multichannel/cnn/k45/model.pt" in run.stdout
    # the paper's settings but bf16, which the profile lists as its one departure
    overrides = yaml.safe_load((REPO / "profiles/gpu/overrides.yaml").read_text())
    assert len(overrides["departures"]) == 1 and "bf16" in overrides["departures"][0]
    assert overrides["table1"] == {"precision": "bf16"}
    assert overrides["training"] == {"group_size": 20, "mnist": {"precision": "bf16"}}
    # its export: all 20 rows of Table 1 as reference/mnist-table1, from the same jobs
    export = "reference/mnist-table1/summary.csv"
    run = snakemake(tmp_path, "--profile", str(REPO / "profiles/gpu"), export, "-n")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    assert counts["reference_table1_export"] == 1 and counts["certificates"] == 20
    assert counts["votes_shard"] == 400 and counts["train_group_k5_to_k100"] == 1
