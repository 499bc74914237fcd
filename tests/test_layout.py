"""randablate.layout: the pipeline's paths, sampling schemes, shards and default targets."""

from __future__ import annotations

import copy
import itertools
import re
import subprocess
import sys

import pytest
import yaml
from conftest import CONFIG, REPO, holds_unless_planted

from randablate import layout

PAPER = yaml.safe_load((REPO / CONFIG).read_text())


def changed(**sections) -> dict:
    """The paper's config with some keys of some sections changed."""
    config = copy.deepcopy(PAPER)
    for name, values in sections.items():
        if isinstance(values, dict):
            config[name].update(values)
        else:
            config[name] = values
    return config


@pytest.mark.parametrize("total", [0, 1, 2, 7, 10, 11, 50, 275, 301])
def test_balanced_ranges_cover_every_index_once_in_order(total):
    for shards in range(1, 23):
        ranges = [layout.balanced_range(s, shards, total) for s in range(shards)]
        covered = [i for start, stop in ranges for i in range(start, stop)]
        assert covered == list(range(total)), (total, shards)
        sizes = [stop - start for start, stop in ranges]
        assert max(sizes) - min(sizes) <= 1 and sum(sizes) == total
    # wildcards arrive as strings
    assert layout.balanced_range("3", "20", 10_000) == [1500, 2000]


@pytest.mark.parametrize("shard, shards", [(-1, 4), (4, 4), (0, 0)])
def test_a_shard_outside_its_shards_is_refused(shard, shards):
    with pytest.raises(ValueError, match=f"shard {shard} is not in"):
        layout.balanced_range(shard, shards, 10)


def test_shard_ranges_split_the_images_each_job_certifies_or_attacks():
    assert layout.shard_range(PAPER, "mnist", 19, 20) == [9500, 10_000]
    quick = changed(table1={"num_images": 300})
    assert [layout.shard_range(quick, "mnist", s, 2) for s in (0, 1)] == [[0, 150], [150, 300]]
    # the smoothed classifier is attacked on its own, smaller share of the 275 images
    attack = changed(attack={"smoothed_images": 50})
    assert layout.attack_shard_range(attack, "45", 10, 11) == [45, 50]
    assert layout.attack_shard_range(attack, "784", 10, 11) == [250, 275]


def test_job_paths_put_the_log_and_benchmark_at_the_output_s_stem():
    table1 = layout.job_paths("results/quick/", "tables/table1")
    assert table1 == layout.JobPaths(
        output="results/quick/tables/table1.csv",
        log="logs/results/quick/tables/table1.log",
        benchmark="logs/benchmarks/results/quick/tables/table1.tsv",
        stem="results/quick/tables/table1",
    )
    assert table1.file("_curves.csv") == "results/quick/tables/table1_curves.csv"
    # the cells the scorecard reads beside a table, from its job's paths or from its file
    assert table1.cells == "results/quick/tables/table1.cells.csv"
    assert layout.cells_file(table1.output) == table1.cells
    train = layout.job_paths("results", f"{layout.MODELS}/model", ".pt", job="train")
    filled = {"dataset": "mnist", "encoding": "mean", "arch": "cnn", "k": 45}
    assert train.output.format(**filled) == "results/models/mnist/mean/cnn/k45/model.pt"
    assert train.log.format(**filled) == "logs/results/models/mnist/mean/cnn/k45/train.log"
    assert (
        train.benchmark
        == "logs/benchmarks/results/models/{dataset}/{encoding}/{arch}/k{k}/train.tsv"
    )
    top = layout.job_paths("results", "provenance", ".yaml", job="collect")
    assert (top.output, top.log) == ("results/provenance.yaml", "logs/results/collect.log")


def test_vote_benchmarks_name_each_shard_s_benchmark():
    assert layout.vote_benchmarks(changed(table7={"shards": 2}), "lee", 45) == [
        "logs/benchmarks/results/votes/mnist/multichannel/cnn/k45/lee/shard-0-of-2.tsv",
        "logs/benchmarks/results/votes/mnist/multichannel/cnn/k45/lee/shard-1-of-2.tsv",
    ]
    assert len(layout.vote_benchmarks(PAPER, "standard", 45)) == PAPER["table1"]["shards"]


def test_model_paths_fill_the_data_set_s_table_unless_told():
    pattern = f"{layout.CERTIFICATES}.csv"
    assert layout.model_paths(PAPER, pattern, "cifar10", [25, 50], arch="resnet50") == [
        "certificates/cifar10/multichannel/resnet50/k25/standard.csv",
        "certificates/cifar10/multichannel/resnet50/k50/standard.csv",
    ]
    assert layout.model_paths(PAPER, pattern, "mnist", 45, encoding="mean", sampling="lee") == [
        "certificates/mnist/mean/cnn/k45/lee.csv"
    ]
    assert len(layout.table_paths(PAPER, pattern, "imagenet")) == 3


@pytest.mark.parametrize(
    ("dataset", "sampling", "stages", "alpha", "predict_from"),
    [
        # the standard scheme predicts from the bound votes when they are shared
        ("mnist", "standard", {"select": 1000, "bound": 10_000}, 0.05, "bound"),
        # Lee et al.'s has no prediction stage
        ("imagenet", "lee", {"select": 100, "bound": 100_000}, 0.001, None),
    ],
)
def test_the_paper_s_sampling_schemes(dataset, sampling, stages, alpha, predict_from):
    scheme = layout.sampling_scheme(PAPER, dataset, sampling)
    expected = {"stages": stages, "shards": 20, "run": sampling, "alpha": alpha}
    assert scheme == {**expected, "predict_from": predict_from}
    assert layout.prediction_stage(PAPER, "imagenet") == "bound"


@pytest.mark.parametrize(
    "table1", [{"predict_samples": "separate"}, {"n_predict": 5000}], ids=["separate", "fewer"]
)
def test_the_standard_scheme_draws_prediction_votes_otherwise(table1):
    config = changed(table1=table1)
    scheme = layout.sampling_scheme(config, "mnist", "standard")
    n_predict = config["table1"]["n_predict"]
    assert scheme["stages"] == {"select": 1000, "bound": 10_000, "predict": n_predict}
    assert scheme["predict_from"] == layout.prediction_stage(config, "mnist") == "predict"
    # the other data sets keep their own settings
    assert layout.prediction_stage(config, "cifar10") == "bound"


def test_lee_s_vote_settings_name_no_prediction_stage():
    settings = layout.vote_settings(PAPER, "imagenet", "lee")
    assert settings == {
        "stages": {"select": 100, "bound": 100_000},
        "predict_from": None,
        "batch_size": 1000,
        "precision": "fp32",
    }
    with pytest.raises(ValueError, match="unknown sampling 'fresh'"):
        layout.sampling_scheme(PAPER, "mnist", "fresh")


def test_the_unprotected_cnn_trains_for_baseline_epochs():
    config = changed(training={**PAPER["training"], "baseline_epochs": 10})
    assert layout.training_settings(config, "mnist", "784")["epochs"] == 10
    assert layout.training_settings(config, "mnist", "45")["epochs"] == 400
    assert layout.training_settings(PAPER, "mnist", "784")["epochs"] == 400


MNIST_TARGETS = [
    "results/tables/table1.csv",
    "results/tables/table2.csv",
    "results/tables/discussion.csv",
    "results/figures/figure1.png",
    "results/figures/figure2.png",
    "results/figures/figure3.png",
    "results/figures/figure4.png",
    "results/figures/figure5.png",
    "results/figures/certified_accuracy_mnist.png",
    "results/figures/certificates_compared_mnist.png",
    "results/tables/reproduction.csv",
    "results/tables/attack_soundness.csv",
    "results/provenance.yaml",
    "results/tables/l0_certificates_compared_mnist.csv",
    "results/figures/l0_certificates_compared_mnist.png",
]


def test_each_data_set_s_certificate_table_is_its_config_section_and_the_paper_s():
    assert layout.CERTIFICATE_TABLES == {"mnist": 1, "cifar10": 3, "imagenet": 6}
    for dataset, number in layout.CERTIFICATE_TABLES.items():
        assert layout.section(PAPER, dataset) is PAPER[f"table{number}"]
        assert layout.PAPER_TABLES[number].startswith(f"table{number}_{dataset}_")
    for number, (arch, name) in layout.BASE_ACCURACY_TABLES.items():
        assert layout.PAPER_TABLES[number] == f"table{number}_cifar10_{arch}_base.csv"
        assert name.lower() == arch
    assert sorted(layout.PAPER_TABLES) == list(range(1, 9))
    paper_dir = REPO / "resources" / "paper"
    assert all((paper_dir / name).is_file() for name in layout.PAPER_TABLES.values())


def test_figure5_shows_the_attacked_images_after_figure3_s():
    config = changed(attack={**PAPER["attack"], "figure3_examples": 4, "figure5_examples": 7})
    assert layout.attack_figure_images(config, 3) == (0, 4)
    assert layout.attack_figure_images(config, 5) == (4, 7)
    with pytest.raises(ValueError, match="figures are 3 and 5, got 4"):
        layout.attack_figure_images(config, 4)


def test_default_targets_without_cifar10_or_imagenet_are_mnist_s():
    assert layout.default_targets(PAPER) == MNIST_TARGETS
    quick = changed(results_dir="results/quick/")
    assert layout.default_targets(quick)[0] == "results/quick/tables/table1.csv"


def test_default_targets_add_each_data_set_the_config_makes_available(tmp_path):
    for split in ("train", "val"):
        (tmp_path / split / "n01440764").mkdir(parents=True)
    cifar10 = changed(cifar10={"download": True})
    both = changed(cifar10={"download": True}, imagenet={"dir": str(tmp_path)})
    added = {
        "cifar10": {f"results/tables/table{n}.csv" for n in (3, 4, 5, 8)}
        | {"results/figures/certified_accuracy_cifar10.png"}
        | {"results/figures/certificates_compared_cifar10.png"},
        "imagenet": {f"results/tables/table{n}.csv" for n in (6, 7)}
        | {"results/tables/discussion_imagenet.csv"}
        | {"results/figures/certified_accuracy_imagenet.png"}
        | {"results/figures/certificates_compared_imagenet.png"},
    }
    targets = layout.default_targets(cifar10)
    assert len(targets) == len(set(targets))
    assert set(targets) == set(MNIST_TARGETS) | added["cifar10"]
    assert (
        set(layout.default_targets(both))
        == set(MNIST_TARGETS) | added["cifar10"] | added["imagenet"]
    )
    # imagenet.dir that is not a directory: ImageNet is not available
    missing = changed(imagenet={"dir": str(tmp_path / "nowhere")})
    assert layout.default_targets(missing) == MNIST_TARGETS
    assert "table8" in layout.built_tables(cifar10) and "table8" not in layout.built_tables(PAPER)


def test_the_reference_run_s_targets_are_its_checked_in_files():
    reference = changed(scale="reference", attack={"smoothed": False})
    targets = layout.default_targets(reference)
    # the checked-in files, and the scorecard in results, which the report starts with
    assert targets[-1] == "results/tables/reproduction.csv"
    targets = targets[:-1]
    checked_in = sorted(p.name for p in (REPO / "reference/mnist-k45").iterdir())
    assert all(t.startswith("reference/mnist-k45/") for t in targets)
    assert sorted(t.rsplit("/", 1)[1] for t in targets) == checked_in
    smoothed = changed(scale="reference", attack={"smoothed": True, "k": 45})
    extra = set(layout.default_targets(smoothed)) - set(layout.default_targets(reference))
    assert extra == {"reference/mnist-k45/attack_smoothed_k45.csv"}
    assert layout.built_tables(reference) == {
        "table1": "results/tables/table1.csv",
        "table8": "results/tables/table8.csv",
    }


def test_table8_rows_take_cifar10_where_it_is_available():
    assert layout.table8_rows(PAPER) == [("mnist", 45, "multichannel"), ("mnist", 45, "mean")]
    rows = layout.table8_rows(changed(cifar10={"download": True}))
    assert rows[2:] == [("cifar10", 75, "multichannel"), ("cifar10", 75, "mean")]


def test_data_files_and_params_of_each_data_set():
    config = changed(data_dir="/d/", cifar10={"dir": None, "download": True})
    assert layout.data_files(config, "mnist", "test") == [
        "/d/mnist/t10k-images-idx3-ubyte",
        "/d/mnist/t10k-labels-idx1-ubyte",
    ]
    assert layout.data_files(config, "cifar10", "test") == [
        "/d/cifar10/cifar-10-batches-py/test_batch",
        "/d/cifar10/cifar-10-batches-py/batches.meta",
    ]
    assert len(layout.cifar10_files(config)) == 7
    assert layout.eval_data_params(config, "mnist") == {
        "dataset": "mnist",
        "dir": "/d/mnist",
        "subset": "seeded",
        "count": None,
        "seed": 0,
    }


def test_each_job_kind_takes_its_compute_section_and_only_gpu_jobs_a_gpu():
    config = changed(
        compute={
            "attack": {"threads": 3, "mem_mb": 7000},
            "train": {"threads": 4, "mem_mb": 9000, "compile": False},
            "votes": {"threads": 5, "mem_mb": 6000, "checkpoint_seconds": 60, "compile": False},
            "light": {"threads": 2, "mem_mb": 1500},
        }
    )
    assert {job: layout.job_threads(config, job) for job in layout.COMPUTE_JOBS} == {
        "attack": 3,
        "train": 4,
        "votes": 5,
        "light": 2,
    }
    assert {job: layout.job_resources(config, job) for job in layout.COMPUTE_JOBS} == {
        "attack": {"gpu": 1, "mem_mb": 7000},
        "train": {"gpu": 1, "mem_mb": 9000},
        "votes": {"gpu": 1, "mem_mb": 6000},
        "light": {"mem_mb": 1500},
    }
    with pytest.raises(
        ValueError, match="no job kind 'gpu': expected one of attack, train, votes, light"
    ):
        layout.job_resources(config, "gpu")


def test_the_job_kinds_are_the_schemas_compute_sections():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    compute = schema["properties"]["compute"]["properties"]
    sections = [name for name, sub in compute.items() if "mem_mb" in sub.get("properties", {})]
    assert sorted(sections) == sorted(layout.COMPUTE_JOBS)
    assert set(layout.GPU_JOBS) < set(layout.COMPUTE_JOBS)
    assert PAPER["compute"]["light"] == {"threads": 1, "mem_mb": 2000}


RULE = re.compile(r"^ *rule(?: \w+)?:$", re.M)


def rules_sized_off_their_job_kind(files: dict[str, str]) -> list[str]:
    """Each rule (but `all`) not sized by one job kind (threads, resources, a GPU job's lock)."""
    faults = []
    for name, text in files.items():
        starts = [m.start() for m in RULE.finditer(text)] + [len(text)]
        for start, end in itertools.pairwise(starts):
            body = text[start:end]
            if body.lstrip().startswith("rule all:"):
                continue
            threads = re.findall(r"^ *threads: job_threads\(\"(\w+)\"\)$", body, re.M)
            resources = re.findall(r"^ *resources:\n *\*\*job_resources\(\"(\w+)\"\),$", body, re.M)
            sized = len(threads) == 1 and threads == resources and "mem_mb" not in body
            # a GPU job takes its GPU through the lock files, and only a GPU job does (a shard
            # job's params, common.smk's shard_job_params, hold GPU_LOCK)
            locked = "**GPU_LOCK," in body or "**shard_job_params(" in body
            if not sized or locked != (threads[0] in layout.GPU_JOBS):
                faults.append(f"{name}: {body.strip().splitlines()[0]}")
    return faults


@pytest.mark.parametrize("planted", [None, "figure", "threads", "lock"])
def test_every_rule_takes_threads_and_resources_from_its_job_kind(planted):
    files = {path.name: path.read_text() for path in (REPO / "workflow/rules").glob("*.smk")}
    files["Snakefile"] = (REPO / "workflow/Snakefile").read_text()
    assert sum(len(RULE.findall(text)) for text in files.values()) > 30
    if planted == "figure":  # a memory figure written in a rule
        files["tables.smk"] = files["tables.smk"].replace(
            '**job_resources("light"),', "mem_mb=1000,", 1
        )
    elif planted == "threads":  # a GPU job's resources with the light jobs' threads
        files["votes.smk"] = files["votes.smk"].replace(
            'threads: job_threads("votes")', 'threads: job_threads("light")', 1
        )
    elif planted == "lock":  # a GPU job that takes its lock file but not compute.jobs_per_gpu
        files["l0compared.smk"] = files["l0compared.smk"].replace(
            "**GPU_LOCK,", 'lock_dir=config["compute"]["gpu_lock_dir"],', 1
        )

    def check() -> None:
        assert rules_sized_off_their_job_kind(files) == []

    holds_unless_planted(planted, check)


def test_layout_imports_without_torch():
    heavy = "{'torch', 'numpy', 'pandas'}"
    code = f"import sys, randablate.layout; print(sorted({heavy} & set(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_table1_s_reference_files_name_every_k_of_table1():
    export = layout.reference_exports(changed(table1={"k": [5, 100]}))["reference_table1_export"]
    assert export.files == [
        "reference/mnist-table1/summary.csv",
        "reference/mnist-table1/scorecard.csv",
        "reference/mnist-table1/provenance.yaml",
        "reference/mnist-table1/table1.csv",
        "reference/mnist-table1/certificates_k5.csv.gz",
        "reference/mnist-table1/certificates_k100.csv.gz",
        "reference/mnist-table1/training_k5.csv",
        "reference/mnist-table1/training_k100.csv",
    ]
    assert export.models == {"k5": (5, "multichannel"), "k100": (100, "multichannel")}
    assert export.rows == ((1, "k5"), (1, "k100")) and export.tables == (1,)
    paper = layout.reference_exports(PAPER)["reference_table1_export"]
    assert len(paper.files) == 4 + 2 * 20


def test_the_k45_export_holds_table1_s_row_and_table8_s_two():
    export = layout.reference_exports(PAPER)["reference_export"]
    assert export.models == {"multichannel": (45, "multichannel"), "mean": (45, "mean")}
    assert export.rows == ((1, "multichannel"), (8, "multichannel"), (8, "mean"))
    assert export.tables == (1, 8) and export.directory == "reference/mnist-k45"
    assert layout.reference_files(PAPER) == export.files
