"""Where the pipeline's files go and what each job is asked to do, as plain functions of the config.

Torch-free (the standard library and torch-free modules of this package), so that the workflow's
rules import it at parse time and the tests call it directly. Every result lives under
`results_dir` at a stem (a path relative to results_dir, without suffix); its job's log and
benchmark live at the same stem under `logs/<results_dir>/` and `logs/benchmarks/<results_dir>/`
(`job_paths`). A model is named by the path `{dataset}/{encoding}/{arch}/k{k}` (MODEL); stems
hold Snakemake's wildcards in braces until they are formatted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import attacked_images, authors_checkpoints, num_images, training_groups
from .datasets import (
    CIFAR10_FILES,
    CIFAR10_FOLDER,
    DATASETS,
    MNIST_FILES,
    check_cifar10_dir,
    check_imagenet_dir,
)
from .names import ENCODINGS, STAGES

__all__ = [
    "ATTACK",
    "ATTACK_SOUNDNESS",
    "BASE_ACCURACY",
    "BASE_ACCURACY_TABLES",
    "CELLS",
    "CERTIFICATES",
    "CERTIFICATES_COMPARED",
    "CERTIFICATE_TABLES",
    "CERTIFIED_ACCURACY",
    "COMPUTE_JOBS",
    "DISCUSSION",
    "DISCUSSION_IMAGENET",
    "FIGURE",
    "FPA",
    "GPU_JOBS",
    "IMAGENET_SUBSET",
    "L0_COMPARED",
    "MODEL",
    "MODELS",
    "PAPER_TABLES",
    "PROVENANCE",
    "REFERENCE_CERTIFICATES",
    "REFERENCE_K",
    "REFERENCE_PROVENANCE",
    "REFERENCE_SCORECARD",
    "REFERENCE_SMOOTHED_ATTACK",
    "REFERENCE_SUMMARY",
    "REFERENCE_TABLE",
    "REFERENCE_TABLE1_DIR",
    "REFERENCE_TABLE2_COPIES",
    "REFERENCE_TABLE2_SUMMARY",
    "REFERENCE_TRAINING",
    "REFERENCE_UNPROTECTED",
    "REPRODUCTION",
    "SAMPLINGS",
    "SHARD",
    "TABLE",
    "VOTES",
    "JobPaths",
    "ReferenceExport",
    "attack_figure_images",
    "attack_settings",
    "attack_shard_range",
    "authors_models",
    "available_datasets",
    "balanced_range",
    "built_figures",
    "built_tables",
    "cells_file",
    "cifar10_available",
    "cifar10_files",
    "data_dirs",
    "data_files",
    "data_params",
    "default_targets",
    "eval_data_params",
    "fpa_paths",
    "imagenet_available",
    "imagenet_dir",
    "job_paths",
    "job_resources",
    "job_threads",
    "mnist_files",
    "model_paths",
    "prediction_stage",
    "reference_dir",
    "reference_exports",
    "reference_files",
    "reference_table2_files",
    "result",
    "sampling_scheme",
    "section",
    "shard_range",
    "table1_training_groups",
    "table8_rows",
    "table_paths",
    "training_settings",
    "vote_benchmarks",
    "vote_settings",
]

Config = Mapping[str, Any]

# A model's identity as a path, and where each kind of result lives (stems under results_dir).
MODEL = "{dataset}/{encoding}/{arch}/k{k}"
SHARD = "shard-{shard}-of-{shards}"
MODELS = f"models/{MODEL}"
# A model's votes and certificates under each sampling scheme (sampling_scheme): "standard", its
# table's, and "lee", Lee et al.'s (Table 7, footnote 2).
SAMPLINGS = ("standard", "lee")
VOTES = f"votes/{MODEL}/{{sampling}}"
CERTIFICATES = f"certificates/{MODEL}/{{sampling}}"
BASE_ACCURACY = f"base_accuracy/{MODEL}"
ATTACK = f"attack/{MODEL}"
FPA = "fpa/{dataset}/{encoding}/{arch}/T{groups}"
IMAGENET_SUBSET = "data/imagenet/val_subset"
TABLE = "tables/table{number}"
FIGURE = "figures/figure{number}"
CERTIFIED_ACCURACY = "figures/certified_accuracy_{dataset}"
# Beyond the paper: Corollaries 1 and 2, top-2 and top-3 from the same votes; L0 certificates
# (randomized ablation beside feature partition aggregation) on MNIST.
CERTIFICATES_COMPARED = "certificates_compared_{dataset}"
L0_COMPARED = "l0_certificates_compared_mnist"
DISCUSSION = "tables/discussion"
DISCUSSION_IMAGENET = "tables/discussion_imagenet"
REPRODUCTION = "tables/reproduction"
ATTACK_SOUNDNESS = "tables/attack_soundness"
PROVENANCE = "provenance"
# Beside each table that the scorecard reads, its cells (JobPaths.cells, cells_file).
CELLS = ".cells.csv"

# The jobs of each compute.<job> config section: training, votes (and base accuracy) and attacks
# take a GPU (Snakemake's resource gpu=1); "light" is every job without one (data, gathering
# shards, certificates, tables, figures, provenance).
GPU_JOBS = ("attack", "train", "votes")
COMPUTE_JOBS = (*GPU_JOBS, "light")

# The paper's printed tables under names.PAPER_DIR, by number.
PAPER_TABLES = {
    1: "table1_mnist_certificates.csv",
    2: "table2_mnist_pointwise.csv",
    3: "table3_cifar10_certificates.csv",
    4: "table4_cifar10_resnet18_base.csv",
    5: "table5_cifar10_resnet50_base.csv",
    6: "table6_imagenet_certificates.csv",
    7: "table7_lee_comparison.csv",
    8: "table8_null_encoding.csv",
}
# Each data set's certificate table (its config section: Tables 1, 3 and 6), and the CIFAR-10 base
# classifiers' tables (Tables 4 and 5): the architecture and its name in the paper.
CERTIFICATE_TABLES = {name: int(d.section.removeprefix("table")) for name, d in DATASETS.items()}
BASE_ACCURACY_TABLES = {4: ("resnet18", "ResNet18"), 5: ("resnet50", "ResNet50")}


@dataclass(frozen=True)
class JobPaths:
    """A job's output under results_dir, and its log and benchmark under logs/."""

    output: str
    log: str
    benchmark: str
    stem: str  # the output without its suffix

    def file(self, suffix: str) -> str:
        """Another output of the job, beside `output`: its stem with `suffix` ("_curves.csv")."""
        return f"{self.stem}{suffix}"

    @property
    def cells(self) -> str:
        """A table's cells, beside it (cells_file)."""
        return self.file(CELLS)


def cells_file(table: str) -> str:
    """The cells beside a table (<stem>.cells.csv): each of its numbers beside the paper's."""
    return table.removesuffix(".csv") + CELLS


def job_paths(
    results_dir: str, stem: str, suffix: str = ".csv", job: str | None = None
) -> JobPaths:
    """Output `<results_dir>/<stem><suffix>`; log and benchmark at the stem, or at `job` beside it.

    `job` names a log apart from the output's file (a model's `train.log` beside `model.pt`).
    """
    results = results_dir.rstrip("/")
    at = stem if job is None else f"{os.path.dirname(stem)}/{job}".lstrip("/")
    return JobPaths(
        output=f"{results}/{stem}{suffix}",
        log=f"logs/{results}/{at}.log",
        benchmark=f"logs/benchmarks/{results}/{at}.tsv",
        stem=f"{results}/{stem}",
    )


def _compute_section(config: Config, job: str) -> Mapping[str, Any]:
    """The config section compute.<job> of a job kind (one of COMPUTE_JOBS)."""
    if job not in COMPUTE_JOBS:
        raise ValueError(f"no job kind {job!r}: expected one of {', '.join(COMPUTE_JOBS)}")
    return config["compute"][job]


def job_threads(config: Config, job: str) -> int:
    """The CPU threads of a `job` kind's jobs (compute.<job>.threads)."""
    return _compute_section(config, job)["threads"]


def job_resources(config: Config, job: str) -> dict[str, int]:
    """Snakemake resources of a `job` kind's jobs: gpu=1 for GPU_JOBS, compute.<job>.mem_mb."""
    gpu = {"gpu": 1} if job in GPU_JOBS else {}
    return gpu | {"mem_mb": _compute_section(config, job)["mem_mb"]}


def result(config: Config, path: str) -> str:
    """The path of a result (relative to results_dir) in the working directory."""
    return f"{config['results_dir'].rstrip('/')}/{path}"


def section(config: Config, dataset: str) -> Mapping[str, Any]:
    """The config section holding a data set's certification settings (table1, table3, table6)."""
    return config[DATASETS[dataset].section]


def model_paths(
    config: Config,
    pattern: str,
    dataset: str,
    ks: int | Iterable[int],
    encoding: str | None = None,
    arch: str | None = None,
    sampling: str = "standard",
) -> list[str]:
    """Fill a MODEL pattern for each k (encoding and arch default to the data set's table's)."""
    settings = section(config, dataset)
    ks = [ks] if isinstance(ks, int) else list(ks)
    encoding, arch = encoding or settings["encoding"], arch or settings["arch"]
    fill = {"dataset": dataset, "encoding": encoding, "arch": arch, "sampling": sampling}
    return [pattern.format(**fill, k=k) for k in ks]


def table_paths(config: Config, pattern: str, dataset: str) -> list[str]:
    """Fill a MODEL pattern for each model of a data set's certificate table."""
    return model_paths(config, pattern, dataset, section(config, dataset)["k"])


def fpa_paths(config: Config, pattern: str) -> list[str]:
    """Fill an FPA path pattern (FPA) for each T of fpa.groups (MNIST)."""
    fpa = config["fpa"]
    fill = {"dataset": "mnist", "encoding": fpa["encoding"], "arch": fpa["arch"]}
    return [pattern.format(**fill, groups=groups) for groups in fpa["groups"]]


# --- data sets ---------------------------------------------------------------------------------


def data_dirs(config: Config) -> dict[str, str]:
    """Where MNIST and CIFAR-10 live (CIFAR-10: cifar10.dir, else under data_dir)."""
    data = config["data_dir"].rstrip("/")
    return {
        "mnist": f"{data}/mnist",
        "cifar10": (config["cifar10"]["dir"] or f"{data}/cifar10").rstrip("/"),
    }


def mnist_files(config: Config, split: str | None = None) -> list[str]:
    """The MNIST IDX files (of one split, or all four)."""
    prefix = {"train": "train-", "test": "t10k-", None: ""}[split]
    directory = data_dirs(config)["mnist"]
    return [f"{directory}/{name}" for name in MNIST_FILES if name.startswith(prefix)]


def cifar10_files(config: Config, split: str | None = None) -> list[str]:
    """The CIFAR-10 batch files (of one split, or all); a cifar10.dir must hold its folder."""
    if config["cifar10"]["dir"] is not None:
        check_cifar10_dir(config["cifar10"]["dir"])
    names = (
        CIFAR10_FILES[split]
        if split
        else sorted({n for names in CIFAR10_FILES.values() for n in names})
    )
    return [f"{data_dirs(config)['cifar10']}/{CIFAR10_FOLDER}/{name}" for name in names]


def imagenet_dir(config: Config) -> str:
    """imagenet.dir, or raise naming the key when ImageNet is not there."""
    return str(check_imagenet_dir(config["imagenet"]["dir"])).rstrip("/")


def cifar10_available(config: Config) -> bool:
    """True when the config says where CIFAR-10 is, or lets torchvision download it."""
    return config["cifar10"]["dir"] is not None or bool(config["cifar10"]["download"])


def imagenet_available(config: Config) -> bool:
    """True when imagenet.dir is a directory."""
    directory = config["imagenet"]["dir"]
    return directory is not None and os.path.isdir(directory)


def data_files(config: Config, dataset: str, split: str) -> list[str]:
    """The files (ImageNet: the directory and the evaluated subset) a job on `split` reads."""
    if dataset == "mnist":
        return mnist_files(config, split)
    if dataset == "cifar10":
        return cifar10_files(config, split)
    root = imagenet_dir(config)
    if split == "train":
        return [f"{root}/train"]
    return [f"{root}/val", result(config, IMAGENET_SUBSET + ".csv")]


def data_params(config: Config, dataset: str) -> dict[str, Any]:
    """Where a job finds its data set: name, directory and (ImageNet) the evaluation subset."""
    if dataset == "imagenet":
        subset = result(config, IMAGENET_SUBSET + ".csv")
        return {"dataset": "imagenet", "dir": imagenet_dir(config), "subset": subset}
    return {"dataset": dataset, "dir": data_dirs(config)[dataset], "subset": None}


def eval_data_params(config: Config, dataset: str) -> dict[str, Any]:
    """data_params plus which test images a data set's certificate table evaluates."""
    data = data_params(config, dataset)
    if dataset != "imagenet":
        settings = section(config, dataset)
        data.update(count=settings["num_images"], subset=settings["subset"], seed=config["seed"])
    return data


# --- sampling schemes and job settings ---------------------------------------------------------


def prediction_stage(config: Config, dataset: str) -> str:
    """The vote stage a data set's predictions come from: "bound" when shared, else "predict"."""
    settings = section(config, dataset)
    shared = settings["predict_samples"] == "shared"
    return STAGES[1] if shared and settings["n_predict"] == settings["n"] else STAGES[2]


def sampling_scheme(config: Config, dataset: str, sampling: str) -> dict[str, Any]:
    """A sampling scheme's vote stages, shards, seed run, alpha and prediction stage."""
    select, bound, predict = STAGES
    if sampling == "lee":  # Lee et al.'s sampling (table7): n0 and n only, no prediction stage
        t7 = config["table7"]
        return {
            "stages": {select: t7["n0"], bound: t7["n"]},
            "shards": t7["shards"],
            "run": "lee",
            "alpha": t7["alpha"],
            "predict_from": None,
        }
    if sampling != "standard":
        raise ValueError(f"unknown sampling {sampling!r}; expected one of {SAMPLINGS}")
    settings = section(config, dataset)
    stages = {select: settings["n0"], bound: settings["n"]}
    predict_from = prediction_stage(config, dataset)
    if predict_from == predict:
        stages[predict] = settings["n_predict"]
    return {
        "stages": stages,
        "shards": settings["shards"],
        "run": "standard",
        "alpha": settings["alpha"],
        "predict_from": predict_from,
    }


def vote_settings(config: Config, dataset: str, sampling: str) -> dict[str, Any]:
    """Sampling stages, batch size and precision of one model's vote counting."""
    settings = section(config, dataset)
    scheme = sampling_scheme(config, dataset, sampling)
    return {
        "stages": scheme["stages"],
        "predict_from": scheme["predict_from"],  # recorded with the votes (certification.py)
        "batch_size": settings["batch_size"],
        "precision": settings["precision"],
    }


def training_settings(config: Config, dataset: str, k: int | str) -> dict[str, Any]:
    """A model's training settings: its data set's, or the unprotected CNN's (baseline_epochs)."""
    settings = dict(config["training"][dataset])
    baseline_epochs = config["training"]["baseline_epochs"]
    if dataset == "mnist" and baseline_epochs and int(k) == config["attack"]["baseline_k"]:
        settings["epochs"] = baseline_epochs
    return settings


ATTACK_KEYS = ("n_query", "alpha", "starts", "init", "init_epsilons", "init_repetitions")
ATTACK_KEYS += ("init_steps", "init_tries", "l2_binary_search", "max_queries", "decision", "delta")


def attack_settings(config: Config) -> dict[str, Any]:
    """The per-image attack settings of the config (see randablate.attack)."""
    return {key: config["attack"][key] for key in ATTACK_KEYS}


def attack_figure_images(config: Config, number: int) -> tuple[int, int]:
    """Figure 3's or 5's (skip, examples): Figure 5 shows the attacked images after Figure 3's."""
    first = config["attack"]["figure3_examples"]
    if number == 3:
        return 0, first
    if number == 5:
        return first, config["attack"]["figure5_examples"]
    raise ValueError(f"the attack's figures are 3 and 5, got {number}")


def table8_rows(config: Config) -> list[tuple[str, int, str]]:
    """Table 8's rows (data set, k, encoding): MNIST, and CIFAR-10 where it is available."""
    datasets = ["mnist"] + (["cifar10"] if cifar10_available(config) else [])
    return [(d, config["table8"][f"{d}_k"], e) for d in datasets for e in ENCODINGS]


# --- models --------------------------------------------------------------------------------------


def authors_models(config: Config) -> dict[str, dict[str, Any]]:
    """Models the authors released (authors_checkpoints.dir): model path -> checkpoint, identity."""
    pattern = result(config, f"{MODELS}/model.pt")
    return {
        pattern.format(dataset=d, encoding=e, arch=a, k=k): {
            "file": str(path),
            **{"dataset": d, "encoding": e, "arch": a, "k": k},
        }
        for (d, e, a, k), path in authors_checkpoints(config).items()
    }


def table1_training_groups(config: Config, imported: Iterable[str] = ()) -> list[list[int]]:
    """The ks of each group training job of Table 1 (training.group_size; none when it is 1).

    `imported`: model paths imported from the authors instead of trained.
    """
    size = config["training"]["group_size"]
    if size == 1:
        return []
    imported = set(imported)
    model = result(config, f"{MODELS}/model.pt")
    trained = [
        k
        for k in config["table1"]["k"]
        if model_paths(config, model, "mnist", k)[0] not in imported
    ]
    items = [(k, training_settings(config, "mnist", k)) for k in trained]
    return [ks for ks in training_groups(items, size) if len(ks) > 1]


# --- shards --------------------------------------------------------------------------------------


def balanced_range(shard: int | str, shards: int | str, total: int) -> list[int]:
    """[start, stop) of shard `shard` of `shards` over `total` items: sizes differ by at most 1."""
    shard, shards = int(shard), int(shards)
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return [shard * total // shards, (shard + 1) * total // shards]


def shard_range(config: Config, dataset: str, shard: int | str, shards: int | str) -> list[int]:
    """[start, stop) positions in the evaluated images of a vote shard."""
    return balanced_range(shard, shards, num_images(config, dataset))


def attack_shard_range(
    config: Config, k: int | str, shard: int | str, shards: int | str
) -> list[int]:
    """[start, stop) positions in the attack's test images of an attack shard of the model k."""
    return balanced_range(shard, shards, attacked_images(config, int(k)))


def vote_benchmarks(config: Config, sampling: str, k: int) -> list[str]:
    """The benchmark files of one Table 1 model's vote shards under a sampling scheme."""
    shards = sampling_scheme(config, "mnist", sampling)["shards"]
    pattern = job_paths(config["results_dir"], f"{VOTES}/{SHARD}", ".npz").benchmark
    t1 = section(config, "mnist")
    model = {"dataset": "mnist", "encoding": t1["encoding"], "arch": t1["arch"], "k": k}
    return [
        pattern.format(**model, sampling=sampling, shard=s, shards=shards) for s in range(shards)
    ]


# --- default targets -----------------------------------------------------------------------------


def built_tables(config: Config) -> dict[str, str]:
    """The tables `snakemake` builds by default, by name: those whose data sets are available."""
    table = {n: result(config, TABLE.format(number=n) + ".csv") for n in range(1, 9)}
    if config["scale"] == "reference":
        return {"table1": table[1], "table8": table[8]}
    tables = {
        "table1": table[1],
        "table2": table[2],
        "discussion": result(config, DISCUSSION + ".csv"),
    }
    if cifar10_available(config):
        tables |= {f"table{n}": table[n] for n in (3, 4, 5, 8)}
    if imagenet_available(config):
        tables |= {"table6": table[6], "table7": table[7]}
        tables["discussion_imagenet"] = result(config, DISCUSSION_IMAGENET + ".csv")
    return tables


def available_datasets(config: Config) -> list[str]:
    """The data sets the config makes available: MNIST, and CIFAR-10 and ImageNet where set."""
    available = {"cifar10": cifar10_available(config), "imagenet": imagenet_available(config)}
    return ["mnist"] + [dataset for dataset, there in available.items() if there]


def built_figures(config: Config) -> list[str]:
    """The figures `snakemake` builds by default: those whose data sets are available."""
    figures = [result(config, FIGURE.format(number=n) + ".png") for n in range(1, 6)]
    for pattern in (CERTIFIED_ACCURACY, f"figures/{CERTIFICATES_COMPARED}"):
        figures += [
            result(config, f"{pattern}.png").format(dataset=d) for d in available_datasets(config)
        ]
    return figures


def default_targets(config: Config) -> list[str]:
    """What `snakemake` builds with no target: the reference's files, or every table and figure."""
    if config["scale"] == "reference":  # and the scorecard, which the report starts with
        scorecard = result(config, REPRODUCTION + ".csv")
        return [*reference_files(config), *reference_table2_files(config), scorecard]
    others = (REPRODUCTION + ".csv", ATTACK_SOUNDNESS + ".csv", PROVENANCE + ".yaml")
    others += (f"tables/{L0_COMPARED}.csv", f"figures/{L0_COMPARED}.png")
    return [
        *built_tables(config).values(),
        *built_figures(config),
        *(result(config, p) for p in others),
    ]


# --- the reference run's checked-in files --------------------------------------------------------

REFERENCE_SUMMARY = "summary.csv"
REFERENCE_SCORECARD = "scorecard.csv"
REFERENCE_PROVENANCE = "provenance.yaml"
# reference_table2's files: Table 2 and the unprotected CNN's per-image attack, copied as they are.
REFERENCE_TABLE2_SUMMARY = "summary_table2.csv"
REFERENCE_TABLE2_COPIES = ("table2.csv", "attack_unprotected_cnn.csv")
REFERENCE_UNPROTECTED = "unprotected_cnn"  # the unprotected CNN's name in training_<name>.csv
# All of Table 1's rows at the paper's settings, from one GPU run (profiles/gpu).
REFERENCE_TABLE1_DIR = "reference/mnist-table1"


# An export's file names: the per-image certificates and the training history of the model <name>,
# the copy of Table <number>, and the smoothed classifier's per-image attack at k (attack.smoothed
# on). Table 1's export names its models k<k>.
REFERENCE_CERTIFICATES = "certificates_{name}.csv.gz"
REFERENCE_TRAINING = "training_{name}.csv"
REFERENCE_TABLE = "table{number}.csv"
REFERENCE_SMOOTHED_ATTACK = "attack_smoothed_k{k}.csv"
REFERENCE_K = "k{k}"


def reference_dir(config: Config) -> str:
    """Where the reference run's results are checked in: reference/mnist-k<table8.mnist_k>."""
    return f"reference/mnist-k{config['table8']['mnist_k']}"


@dataclass(frozen=True)
class ReferenceExport:
    """One checked-in export of a run: its directory, MNIST models, summary rows and tables.

    `models` gives each exported model's (k, encoding) by its name in certificates_<name> and
    training_<name>; `rows` are the summary's rows in order, (table number, model name); `tables`
    are the tables copied beside them, whose cells hold the paper's values and make the scorecard.
    """

    directory: str
    models: dict[str, tuple[int, str]]
    rows: tuple[tuple[int, str], ...]
    tables: tuple[int, ...]

    @property
    def files(self) -> list[str]:
        """Every file the export writes."""
        names = [REFERENCE_SUMMARY, REFERENCE_SCORECARD, REFERENCE_PROVENANCE]
        names += [REFERENCE_TABLE.format(number=number) for number in self.tables]
        names += [REFERENCE_CERTIFICATES.format(name=name) for name in self.models]
        names += [REFERENCE_TRAINING.format(name=name) for name in self.models]
        return [f"{self.directory}/{name}" for name in names]


def reference_exports(config: Config) -> dict[str, ReferenceExport]:
    """The exports by rule: the reference run's (k = 45: Tables 1 and 8) and all of Table 1's."""
    k, ks, encoding = (
        config["table8"]["mnist_k"],
        config["table1"]["k"],
        config["table1"]["encoding"],
    )
    return {
        "reference_export": ReferenceExport(
            reference_dir(config),
            models={e: (k, e) for e in ENCODINGS},
            rows=((1, encoding), *((8, e) for e in ENCODINGS)),
            tables=(1, 8),
        ),
        "reference_table1_export": ReferenceExport(
            REFERENCE_TABLE1_DIR,
            models={REFERENCE_K.format(k=k): (k, encoding) for k in ks},
            rows=tuple((1, REFERENCE_K.format(k=k)) for k in ks),
            tables=(1,),
        ),
    }


def reference_files(config: Config) -> list[str]:
    """The files reference_export writes: summary, scorecard, copies, per-model files."""
    return reference_exports(config)["reference_export"].files


def reference_table2_files(config: Config) -> list[str]:
    """The files reference_table2 writes; the smoothed classifier's attack with attack.smoothed."""
    names = [REFERENCE_TABLE2_SUMMARY, *REFERENCE_TABLE2_COPIES]
    names.append(REFERENCE_TRAINING.format(name=REFERENCE_UNPROTECTED))
    if config["attack"]["smoothed"]:
        names.append(REFERENCE_SMOOTHED_ATTACK.format(k=config["attack"]["k"]))
    return [f"{reference_dir(config)}/{name}" for name in names]
