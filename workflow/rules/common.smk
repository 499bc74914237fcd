"""Shared helpers: target paths, input functions, wildcard constraints."""

import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

# The checkout holding this workflow (workflow/rules/ is two levels down); workflow.basedir is the
# main Snakefile's directory, which is another one when this workflow is used as a module.
REPO = Path(workflow.current_basedir).resolve().parents[1]
# Jobs import the randablate package of this checkout, also inside the conda envs of workflow/envs/.
SRC_DIR = str(REPO / "src")
if SRC_DIR not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (SRC_DIR, os.environ.get("PYTHONPATH")) if p
    )


envvars:
    "PYTHONPATH",


# The data sets' facts and the config checks the schema cannot make live in the library (torch-free).
if SRC_DIR not in sys.path:
    sys.path.insert(0, SRC_DIR)
from randablate.config import (
    attacked_images,
    authors_checkpoints,
    check_config,
    num_images,
    training_groups,
)
from randablate.datasets import (
    CIFAR10_FILES,
    CIFAR10_FOLDER,
    DATASETS,
    MNIST_FILES,
    check_cifar10_dir,
    check_imagenet_dir,
)

check_config(config)

DATA_DIR = config["data_dir"].rstrip("/")
MNIST_DIR = f"{DATA_DIR}/mnist"
CIFAR10_ROOT = (config["cifar10"]["dir"] or f"{DATA_DIR}/cifar10").rstrip("/")
PAPER_DIR = REPO / "resources" / "paper"
PAPER_TABLE1 = PAPER_DIR / "table1_mnist_certificates.csv"
PAPER_DISCUSSION = PAPER_DIR / "discussion_constants.csv"
# The paper's certificate table of each data set (Tables 1, 3, 6).
PAPER_TABLES = {
    3: PAPER_DIR / "table3_cifar10_certificates.csv",
    4: PAPER_DIR / "table4_cifar10_resnet18_base.csv",
    5: PAPER_DIR / "table5_cifar10_resnet50_base.csv",
    6: PAPER_DIR / "table6_imagenet_certificates.csv",
    7: PAPER_DIR / "table7_lee_comparison.csv",
    8: PAPER_DIR / "table8_null_encoding.csv",
}
PAPER_CERTIFICATES = {
    "mnist": PAPER_TABLE1,
    "cifar10": PAPER_TABLES[3],
    "imagenet": PAPER_TABLES[6],
}

# Every result lives under results_dir (one per scale: results, results/quick, ...), and its log
# and benchmark under logs/ and logs/benchmarks/ at the same path.
RESULTS = config["results_dir"].rstrip("/")


def result(path):
    """The path of a result under results_dir."""
    return f"{RESULTS}/{path}"


def log_of(path):
    """The log of the job that writes `path` (relative to results_dir)."""
    return f"logs/{RESULTS}/{path}"


def benchmark_of(path):
    """The benchmark file of the job that writes `path` (relative to results_dir)."""
    return f"logs/benchmarks/{RESULTS}/{path}"


MODEL_DIR = result("models/{dataset}/{encoding}/{arch}/k{k}")
# A model's votes and certificates under each sampling scheme (sampling_scheme): "standard", its
# table's, and "lee", Lee et al.'s (Table 7, footnote 2).
SAMPLINGS = ("standard", "lee")
VOTES_DIR = result("votes/{dataset}/{encoding}/{arch}/k{k}/{sampling}")
VOTE_SHARD = f"{VOTES_DIR}/shard-{{shard}}-of-{{shards}}.npz"
CERTIFICATES = result("certificates/{dataset}/{encoding}/{arch}/k{k}/{sampling}.csv")
BASE_ACCURACY = result("base_accuracy/{dataset}/{encoding}/{arch}/k{k}.json")
IMAGENET_SUBSET = result("data/imagenet/val_subset.csv")
# The authors' 400 ImageNet validation images (imagenet_indices.pth of their repository).
PAPER_IMAGENET_INDICES = PAPER_DIR / "imagenet_val_indices.csv"
TABLE = result("tables/table{number}.csv")
TABLE1 = TABLE.format(number=1)
PROVENANCE = result("provenance.yaml")
FIGURE_CERTIFIED_ACCURACY = result("figures/certified_accuracy_{dataset}.png")
# Beyond the paper: Corollaries 1 and 2, top-2 and top-3 from the same votes (compared.smk).
CERTIFICATES_COMPARED = result("tables/certificates_compared_{dataset}.csv")
FIGURE_CERTIFICATES_COMPARED = result("figures/certificates_compared_{dataset}.png")
FIGURE1 = result("figures/figure1.png")
FIGURE2 = result("figures/figure2.png")
FIGURE4 = result("figures/figure4.png")
DISCUSSION = result("tables/discussion.csv")
DISCUSSION_IMAGENET = result("tables/discussion_imagenet.csv")
REPRODUCTION = result("tables/reproduction.csv")


def authors_models():
    """Models the authors released (authors_checkpoints.dir): model path -> checkpoint, identity."""
    return {
        f"{MODEL_DIR}/model.pt".format(dataset=d, encoding=e, arch=a, k=k): {
            "file": str(path),
            "dataset": d,
            "encoding": e,
            "arch": a,
            "k": k,
        }
        for (d, e, a, k), path in authors_checkpoints(config).items()
    }


# Imported by rule import_authors_checkpoint instead of trained.
AUTHORS_MODELS = authors_models()


wildcard_constraints:
    dataset="|".join(DATASETS),
    encoding="[a-z]+",
    arch="[a-z0-9_]+",
    k=r"\d+",
    sampling="|".join(SAMPLINGS),
    number=r"\d",
    shard=r"\d+",
    shards=r"\d+",


def mnist_files(split=None):
    """Return the paths of the MNIST IDX files (of one split, or all four)."""
    prefix = {"train": "train-", "test": "t10k-", None: ""}[split]
    return [f"{MNIST_DIR}/{name}" for name in MNIST_FILES if name.startswith(prefix)]


def cifar10_files(split=None):
    """Return the paths of the CIFAR-10 batch files (of one split, or all).

    Where cifar10.dir names the user's copy, raise naming the key unless it holds CIFAR-10's
    folder (a missing folder would otherwise surface as missing input files of some rule).
    """
    if config["cifar10"]["dir"] is not None:
        check_cifar10_dir(config["cifar10"]["dir"])
    names = (
        CIFAR10_FILES[split] if split else sorted(set(sum(CIFAR10_FILES.values(), [])))
    )
    return [f"{CIFAR10_ROOT}/{CIFAR10_FOLDER}/{name}" for name in names]


def imagenet_dir():
    """Return imagenet.dir, or raise naming the key when ImageNet is not there."""
    return str(check_imagenet_dir(config["imagenet"]["dir"])).rstrip("/")


def imagenet_indices_input(wildcards):
    """Input function: the authors' list of validation images when imagenet.subset is authors."""
    return (
        str(PAPER_IMAGENET_INDICES) if config["imagenet"]["subset"] == "authors" else []
    )


def cifar10_available():
    """True when the config says where CIFAR-10 is, or lets torchvision download it."""
    return config["cifar10"]["dir"] is not None or config["cifar10"]["download"]


def imagenet_available():
    """True when imagenet.dir is a directory."""
    return config["imagenet"]["dir"] is not None and os.path.isdir(
        config["imagenet"]["dir"]
    )


def data_input(split):
    """Input function: the files (or directory) a job on `split` of {dataset} reads."""

    def files(wildcards):
        if wildcards.dataset == "mnist":
            return mnist_files(split)
        if wildcards.dataset == "cifar10":
            return cifar10_files(split)
        root = imagenet_dir()
        if split == "train":
            return [f"{root}/train"]
        return [f"{root}/val", IMAGENET_SUBSET]

    return files


def data_params(wildcards):
    """Where a job finds its data set: name, directory and (ImageNet) the evaluation subset."""
    directory = {"mnist": MNIST_DIR, "cifar10": CIFAR10_ROOT}
    if wildcards.dataset == "imagenet":
        return {"dataset": "imagenet", "dir": imagenet_dir(), "subset": IMAGENET_SUBSET}
    return {
        "dataset": wildcards.dataset,
        "dir": directory[wildcards.dataset],
        "subset": None,
    }


def eval_data_params(wildcards):
    """data_params plus which test images a data set's certificate table evaluates."""
    data = data_params(wildcards)
    if wildcards.dataset != "imagenet":
        settings = section(wildcards.dataset)
        data.update(
            count=settings["num_images"],
            subset=settings["subset"],
            seed=config["seed"],
        )
    return data


def section(dataset):
    """The config section holding a data set's certification settings."""
    return config[DATASETS[dataset].section]


def model_files(pattern, dataset, ks, encoding=None, arch=None, sampling="standard"):
    """Expand a {dataset}/{encoding}/{arch}/{k}[/{sampling}] pattern (default: the data set's table)."""
    settings = section(dataset)
    return expand(
        pattern,
        dataset=dataset,
        encoding=encoding or settings["encoding"],
        arch=arch or settings["arch"],
        k=ks,
        sampling=sampling,
    )


def table_files(pattern, dataset):
    """Expand a path pattern over the models of a data set's certificate table."""
    return model_files(pattern, dataset, section(dataset)["k"])


def table1_files(pattern, ks=None):
    """Expand a {dataset}/{encoding}/{arch}/{k} path pattern over Table 1's models (or those of `ks`)."""
    if ks is None:
        return table_files(pattern, "mnist")
    return model_files(pattern, "mnist", ks)


def balanced_range(shard, shards, total):
    """Return [start, stop) of shard `shard` of `shards` over `total` items."""
    shard, shards = int(shard), int(shards)
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return [shard * total // shards, (shard + 1) * total // shards]


def shard_range(wildcards):
    """Return [start, stop) positions in the evaluated images of a vote shard."""
    return balanced_range(
        wildcards.shard, wildcards.shards, num_images(config, wildcards.dataset)
    )


def shard_files(pattern, shards):
    """Input function: every shard of a {shard}-of-{shards} pattern; shards: int or of wildcards."""

    def files(wildcards):
        count = shards(wildcards) if callable(shards) else shards
        return expand(pattern, **wildcards, shard=range(count), shards=count)

    return files


def prediction_stage(dataset):
    """The vote stage a data set's predictions come from: "bound" when shared, else "predict"."""
    settings = section(dataset)
    shared = settings["predict_samples"] == "shared"
    return "bound" if shared and settings["n_predict"] == settings["n"] else "predict"


def sampling_scheme(wildcards):
    """A {sampling} scheme's vote stages, shards, seed run, alpha and prediction stage."""
    settings = section(wildcards.dataset)
    if wildcards.sampling == "lee":
        # Lee et al.'s sampling (table7): n0 and n only, no prediction stage
        t7 = config["table7"]
        return {
            "stages": {"select": t7["n0"], "bound": t7["n"]},
            "shards": t7["shards"],
            "run": "lee",
            "alpha": t7["alpha"],
            "predict_from": None,
        }
    stages = {"select": settings["n0"], "bound": settings["n"]}
    predict_from = prediction_stage(wildcards.dataset)
    if predict_from == "predict":
        stages["predict"] = settings["n_predict"]
    return {
        "stages": stages,
        "shards": settings["shards"],
        "run": "standard",
        "alpha": settings["alpha"],
        "predict_from": predict_from,
    }


def scheme_value(key):
    """Param or input function: `key` of the job's sampling_scheme."""
    return lambda wildcards: sampling_scheme(wildcards)[key]


def vote_settings(wildcards):
    """Sampling stages, batch size and precision of one model's vote counting."""
    settings = section(wildcards.dataset)
    return {
        "stages": sampling_scheme(wildcards)["stages"],
        "batch_size": settings["batch_size"],
        "precision": settings["precision"],
    }


def training_settings(wildcards):
    """Return the training settings of a model: its data set's, or the unprotected CNN's."""
    settings = dict(config["training"][wildcards.dataset])
    baseline_epochs = config["training"]["baseline_epochs"]
    if (
        wildcards.dataset == "mnist"
        and baseline_epochs
        and int(wildcards.k) == config["attack"]["baseline_k"]
    ):
        settings["epochs"] = baseline_epochs
    return settings


def table1_training_settings(k):
    """The training settings of Table 1's model of `k`."""
    return training_settings(SimpleNamespace(dataset="mnist", k=str(k)))


def table1_training_groups():
    """The ks of each group training job of Table 1 (training.group_size; none when it is 1)."""
    size = config["training"]["group_size"]
    if size == 1:
        return []
    authors = set(AUTHORS_MODELS)
    trained = [
        k
        for k in config["table1"]["k"]
        if table1_files(f"{MODEL_DIR}/model.pt", [k])[0] not in authors
    ]
    items = [(k, table1_training_settings(k)) for k in trained]
    return [ks for ks in training_groups(items, size) if len(ks) > 1]


# Table 1's models (relative to results_dir), and the groups that train them together (train.smk).
TABLE1_MODELS = (
    f"models/mnist/{config['table1']['encoding']}/{config['table1']['arch']}"
)
TRAIN_GROUPS = table1_training_groups()


# The Pointwise attack (attack.smk): Table 2, its soundness table, Figures 3 and 5.
ATTACK_DIR = result("attack/{dataset}/{encoding}/{arch}/k{k}")
ATTACK_SHARD = f"{ATTACK_DIR}/shard-{{shard}}-of-{{shards}}.npz"
TABLE2 = result("tables/table2.csv")
ATTACK_SOUNDNESS = result("tables/attack_soundness.csv")
FIGURE3 = result("figures/figure3.png")
FIGURE5 = result("figures/figure5.png")
PAPER_TABLE2 = REPO / "resources" / "paper" / "table2_mnist_pointwise.csv"


def attack_file(pattern, k):
    """Fill a model's path pattern for an attacked MNIST model (certificates: standard sampling)."""
    t1 = config["table1"]
    return pattern.format(
        dataset="mnist",
        encoding=t1["encoding"],
        arch=t1["arch"],
        k=k,
        sampling="standard",
    )


def attack_shard_range(wildcards):
    """Return [start, stop) positions in the test set of an attack shard (balanced split)."""
    return balanced_range(
        wildcards.shard, wildcards.shards, attacked_images(config, int(wildcards.k))
    )


def attack_certificates(wildcards):
    """The model's certificates (for the radius of each attacked image); none when k = d."""
    if int(wildcards.k) >= DATASETS["mnist"].d:
        return []
    return CERTIFICATES.format(
        dataset=wildcards.dataset,
        encoding=wildcards.encoding,
        arch=wildcards.arch,
        k=wildcards.k,
        sampling="standard",
    )


def smoothed_attack_input(wildcards):
    """The smoothed classifier's per-image attack, if attack.smoothed is on."""
    if not config["attack"]["smoothed"]:
        return {}
    return {"smoothed": attack_file(f"{ATTACK_DIR}/attack.csv", config["attack"]["k"])}


def table2_smoothed_inputs(wildcards):
    """The smoothed classifier's attack and Table 1 certificates, if attack.smoothed is on."""
    inputs = smoothed_attack_input(wildcards)
    if inputs:
        # Table 1's certificates of the attacked model: the paper's accuracy cell is Table 1's
        inputs["certificates"] = attack_file(CERTIFICATES, config["attack"]["k"])
    return inputs


def attack_settings():
    """Return the per-image attack settings of the config (see randablate.attack)."""
    keys = ("n_query", "alpha", "starts", "init", "init_epsilons", "init_repetitions")
    keys += (
        "init_steps",
        "init_tries",
        "l2_binary_search",
        "max_queries",
        "decision",
        "delta",
    )
    return {key: config["attack"][key] for key in keys}


def table8_rows():
    """Table 8's rows (data set, k, encoding): MNIST, and CIFAR-10 where it is available."""
    datasets = ["mnist"] + (["cifar10"] if cifar10_available() else [])
    return [
        (dataset, config["table8"][f"{dataset}_k"], encoding)
        for dataset in datasets
        for encoding in ("multichannel", "mean")
    ]


# The reference run (profiles/reference): its checked-in results.
REFERENCE_DIR = f"reference/mnist-k{config['table8']['mnist_k']}"
REFERENCE_FILES = [
    f"{REFERENCE_DIR}/{name}"
    for name in (
        "summary.csv",
        "table1.csv",
        "table8.csv",
        "scorecard.csv",
        "provenance.yaml",
        "certificates_multichannel.csv.gz",
        "certificates_mean.csv.gz",
        "training_multichannel.csv",
        "training_mean.csv",
    )
]
# Table 2 at the reference's settings, exported by reference_table2 (its attack takes hours more);
# with attack.smoothed on, the smoothed classifier's per-image attack too.
REFERENCE_TABLE2_FILES = [
    f"{REFERENCE_DIR}/{name}"
    for name in (
        "summary_table2.csv",
        "table2.csv",
        "attack_unprotected_cnn.csv",
        "training_unprotected_cnn.csv",
    )
] + (
    [f"{REFERENCE_DIR}/attack_smoothed_k{config['attack']['k']}.csv"]
    if config["attack"]["smoothed"]
    else []
)


def default_targets():
    """What `snakemake` builds with no target: the reference's files, or every table/figure."""
    if config["scale"] == "reference":
        return REFERENCE_FILES + REFERENCE_TABLE2_FILES
    return [
        *built_tables().values(),
        *built_figures(),
        REPRODUCTION,
        ATTACK_SOUNDNESS,
        PROVENANCE,
        # beyond the paper: L0 certificates compared (l0compared.smk)
        L0_COMPARED,
        FIGURE_L0_COMPARED,
    ]


def built_tables():
    """The tables `snakemake` builds by default, by name: those whose data sets are available."""
    if config["scale"] == "reference":
        return {"table1": TABLE1, "table8": TABLE.format(number=8)}
    tables = {"table1": TABLE1, "table2": TABLE2, "discussion": DISCUSSION}
    if cifar10_available():
        for number in (3, 4, 5, 8):
            tables[f"table{number}"] = TABLE.format(number=number)
    if imagenet_available():
        tables["table6"] = TABLE.format(number=6)
        tables["table7"] = TABLE.format(number=7)
        tables["discussion_imagenet"] = DISCUSSION_IMAGENET
    return tables


def built_figures():
    """The figures `snakemake` builds by default: those whose data sets are available."""
    figures = [FIGURE1, FIGURE2, FIGURE3, FIGURE4, FIGURE5]
    datasets = ["mnist"]
    datasets += ["cifar10"] if cifar10_available() else []
    datasets += ["imagenet"] if imagenet_available() else []
    figures += [FIGURE_CERTIFIED_ACCURACY.format(dataset=d) for d in datasets]
    figures += [FIGURE_CERTIFICATES_COMPARED.format(dataset=d) for d in datasets]
    return figures


def print_run_summary():
    """At the end of a successful run: the scorecard's summary and how to get the report."""
    if os.path.exists(REPRODUCTION):
        import pandas as pd
        from randablate.scorecard import summary_text

        print(summary_text(pd.read_csv(REPRODUCTION)), f"({REPRODUCTION})")
    where = f"the results in {RESULTS}"
    print(f"Report: rerun the same command with --report report.html ({where}).")


# Beyond the paper, part two (l0compared.smk): feature partition aggregation beside randomized
# ablation on Table 1's MNIST test images.
FPA_DIR = result("fpa/{dataset}/{encoding}/{arch}/T{groups}")
FPA_MODEL = f"{FPA_DIR}/ensemble.pt"
FPA_VOTES = f"{FPA_DIR}/votes.npz"
L0_COMPARED = result("tables/l0_certificates_compared_mnist.csv")
L0_CURVES = result("tables/l0_certificates_compared_mnist_curves.csv")
FIGURE_L0_COMPARED = result("figures/l0_certificates_compared_mnist.png")
PAPER_FPA = REPO / "resources" / "fpa" / "hammoudeh_lowd_2024_mnist.csv"


def fpa_files(pattern):
    """Expand an FPA path pattern over the config's values of T (MNIST)."""
    f = config["fpa"]
    return expand(
        pattern,
        dataset="mnist",
        encoding=f["encoding"],
        arch=f["arch"],
        groups=f["groups"],
    )


def vote_benchmarks(sampling, k):
    """The benchmark files of one MNIST model's vote shards under a sampling scheme."""
    shards = (
        config["table7"]["shards"] if sampling == "lee" else config["table1"]["shards"]
    )
    t1 = config["table1"]
    return [
        f"logs/benchmarks/{VOTES_DIR}/shard-{shard}-of-{shards}.tsv".format(
            dataset="mnist",
            encoding=t1["encoding"],
            arch=t1["arch"],
            k=k,
            sampling=sampling,
        )
        for shard in range(shards)
    ]
