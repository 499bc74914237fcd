"""Shared helpers: config checks, target paths, input functions, wildcard constraints."""

import math
import os
from pathlib import Path

# Jobs import the randablate package of this checkout, also inside the conda envs of envs/.
SRC_DIR = str(Path(workflow.basedir) / "src")
if SRC_DIR not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (SRC_DIR, os.environ.get("PYTHONPATH")) if p
    )


envvars:
    "PYTHONPATH",


MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_FILES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)] + ["batches.meta"],
    "test": ["test_batch", "batches.meta"],
}

# Per data set: pixels d (a pixel's channels count as one), evaluated test images when the
# config says null, classes, and the config section of its certificate table.
DATASETS = {
    "mnist": dict(
        name="MNIST", d=28 * 28, test_images=10_000, classes=10, section="table1"
    ),
    "cifar10": dict(
        name="CIFAR-10", d=32 * 32, test_images=10_000, classes=10, section="table3"
    ),
    "imagenet": dict(
        name="ImageNet", d=224 * 224, test_images=None, classes=1000, section="table6"
    ),
}


def config_error(key, value, expected):
    """Return the ValueError for a config value that the JSON schema cannot reject."""
    return ValueError(f"invalid config: {key} = {value!r}; expected {expected}")


def check_k(key, k, dataset="mnist"):
    """Raise ValueError unless 1 <= k <= d for the data set."""
    d = DATASETS[dataset]["d"]
    if not 1 <= k <= d:
        raise config_error(
            key, k, f"1 <= k <= d = {d} (pixels of a {DATASETS[dataset]['name']} image)"
        )


def check_alpha(key, alpha):
    """Raise ValueError unless 0 < alpha < 1."""
    if not 0.0 < alpha < 1.0:
        raise config_error(key, alpha, "a number strictly between 0 and 1")


def num_images(cfg, dataset="mnist"):
    """Return how many test (ImageNet: validation) images a data set's table certifies."""
    if dataset == "imagenet":
        return cfg["imagenet"]["num_images"]
    n = cfg[DATASETS[dataset]["section"]]["num_images"]
    return DATASETS[dataset]["test_images"] if n is None else n


def check_certification(cfg, dataset):
    """Raise ValueError for a certificate table's settings the schema cannot reject."""
    section = DATASETS[dataset]["section"]
    settings = cfg[section]
    for k in settings["k"]:
        check_k(f"{section}.k", k, dataset)
    check_alpha(f"{section}.alpha", settings["alpha"])
    images = num_images(cfg, dataset)
    total = DATASETS[dataset]["test_images"]
    if total is not None and images > total:
        raise config_error(
            f"{section}.num_images",
            images,
            f"at most {total} (the {DATASETS[dataset]['name']} test set)",
        )
    if settings["shards"] > images:
        raise config_error(
            f"{section}.shards",
            settings["shards"],
            f"at most the number of evaluated images ({images})",
        )


def check_schedule(cfg, dataset):
    """Raise ValueError unless a training schedule's start epochs begin at 1 and increase."""
    schedule = cfg["training"][dataset]["lr_schedule"]
    starts = [int(start) for start, _ in schedule]
    if starts[0] != 1 or starts != sorted(set(starts)):
        raise config_error(
            f"training.{dataset}.lr_schedule",
            schedule,
            "[start epoch, lr] pairs starting at epoch 1 with increasing start epochs",
        )


def check_config(cfg):
    """Raise ValueError for config values the schema cannot express as wrong."""
    for dataset in DATASETS:
        check_certification(cfg, dataset)
        check_schedule(cfg, dataset)
    source_dir = cfg["mnist"]["source_dir"]
    if source_dir is not None and not os.path.isdir(source_dir):
        raise config_error(
            "mnist.source_dir",
            source_dir,
            "an existing directory holding the four MNIST IDX files, or null",
        )
    for k in cfg["base_accuracy"]["k"]:
        check_k("base_accuracy.k", k, "cifar10")
    t7, t8 = cfg["table7"], cfg["table8"]
    check_k("table7.mnist_k", t7["mnist_k"], "mnist")
    check_k("table7.imagenet_k", t7["imagenet_k"], "imagenet")
    check_alpha("table7.alpha", t7["alpha"])
    check_k("table8.mnist_k", t8["mnist_k"], "mnist")
    check_k("table8.cifar10_k", t8["cifar10_k"], "cifar10")
    for k in cfg["figures"]["figure1_k"]:
        if k not in cfg["table1"]["k"]:
            raise config_error(
                "figures.figure1_k",
                k,
                f"one of table1.k {cfg['table1']['k']} (its models)",
            )
    check_attack_config(cfg, num_images(cfg, "mnist"))


def check_attack_config(cfg, certified_images):
    """Raise ValueError for attack settings the schema cannot express as wrong."""
    attack = cfg["attack"]
    for key in ("k", "baseline_k"):
        check_k(f"attack.{key}", attack[key])
    check_alpha("attack.alpha", attack["alpha"])
    if attack["num_images"] > certified_images:
        raise config_error(
            "attack.num_images",
            attack["num_images"],
            f"at most the {certified_images} images Table 1 certifies (table1.num_images)",
        )
    if attack["shards"] > attack["num_images"]:
        raise config_error(
            "attack.shards",
            attack["shards"],
            f"at most attack.num_images ({attack['num_images']})",
        )
    if attack["baseline_epochs"] and attack["baseline_k"] in cfg["table1"]["k"]:
        raise config_error(
            "attack.baseline_epochs",
            attack["baseline_epochs"],
            "null while attack.baseline_k is one of table1.k (a Table 1 model)",
        )
    least = math.ceil(math.log2(2.0 / attack["alpha"]))
    if attack["n_query"] < least:
        raise config_error(
            "attack.n_query",
            attack["n_query"],
            f"at least {least}: with fewer votes even a unanimous vote abstains at alpha",
        )


check_config(config)

DATA_DIR = config["data_dir"].rstrip("/")
MNIST_DIR = f"{DATA_DIR}/mnist"
CIFAR10_ROOT = (config["cifar10"]["dir"] or f"{DATA_DIR}/cifar10").rstrip("/")
PAPER_DIR = Path(workflow.basedir) / "resources" / "paper"
PAPER_TABLE1 = PAPER_DIR / "table1_mnist_certificates.csv"
PAPER_DISCUSSION = PAPER_DIR / "discussion_constants.csv"
PAPER_TABLES = {
    3: PAPER_DIR / "table3_cifar10_certificates.csv",
    4: PAPER_DIR / "table4_cifar10_resnet18_base.csv",
    5: PAPER_DIR / "table5_cifar10_resnet50_base.csv",
    6: PAPER_DIR / "table6_imagenet_certificates.csv",
    7: PAPER_DIR / "table7_lee_comparison.csv",
    8: PAPER_DIR / "table8_null_encoding.csv",
}

MODEL_DIR = "results/models/{dataset}/{encoding}/{arch}/k{k}"
VOTES_DIR = "results/votes/{dataset}/{encoding}/{arch}/k{k}"
CERTIFICATES = "results/certificates/{dataset}/{encoding}/{arch}/k{k}.csv"
# Votes and certificates with Lee et al.'s sampling (Table 7, footnote 2).
LEE_VOTES_DIR = f"{VOTES_DIR}/lee"
LEE_CERTIFICATES = "results/certificates/{dataset}/{encoding}/{arch}/k{k}-lee.csv"
BASE_ACCURACY = "results/base_accuracy/{dataset}/{encoding}/{arch}/k{k}.json"
IMAGENET_SUBSET = "results/data/imagenet/val_subset.csv"
TABLE = "results/tables/table{number}.csv"
TABLE1 = TABLE.format(number=1)
PROVENANCE = "results/provenance.yaml"
FIGURE_CERTIFIED_ACCURACY = "results/figures/certified_accuracy_{dataset}.png"
FIGURE1 = "results/figures/figure1.png"
FIGURE2 = "results/figures/figure2.png"
FIGURE4 = "results/figures/figure4.png"
DISCUSSION = "results/tables/discussion.csv"
DISCUSSION_IMAGENET = "results/tables/discussion_imagenet.csv"
REPRODUCTION = "results/tables/reproduction.csv"


wildcard_constraints:
    dataset="|".join(DATASETS),
    encoding="[a-z]+",
    arch="[a-z0-9_]+",
    k=r"\d+",
    number=r"\d",
    shard=r"\d+",
    shards=r"\d+",


def mnist_files(split=None):
    """Return the paths of the MNIST IDX files (of one split, or all four)."""
    prefix = {"train": "train-", "test": "t10k-", None: ""}[split]
    return [f"{MNIST_DIR}/{name}" for name in MNIST_FILES if name.startswith(prefix)]


def cifar10_files(split=None):
    """Return the paths of the CIFAR-10 batch files (of one split, or all)."""
    names = (
        CIFAR10_FILES[split] if split else sorted(set(sum(CIFAR10_FILES.values(), [])))
    )
    return [f"{CIFAR10_ROOT}/cifar-10-batches-py/{name}" for name in names]


def imagenet_dir():
    """Return imagenet.dir, or raise naming the key when ImageNet is not there."""
    directory = config["imagenet"]["dir"]
    expected = "a directory with train/ and val/ in ImageFolder layout (ILSVRC2012)"
    if directory is None:
        raise config_error(
            "imagenet.dir", directory, f"{expected}; ImageNet targets need it"
        )
    for sub in ("train", "val"):
        if not os.path.isdir(os.path.join(directory, sub)):
            raise config_error(
                "imagenet.dir", directory, f"{expected}; it has no {sub}/"
            )
    return directory.rstrip("/")


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
    return config[DATASETS[dataset]["section"]]


def model_files(pattern, dataset, ks, encoding=None, arch=None):
    """Expand a {dataset}/{encoding}/{arch}/{k} pattern (default: the data set's table)."""
    settings = section(dataset)
    return expand(
        pattern,
        dataset=dataset,
        encoding=encoding or settings["encoding"],
        arch=arch or settings["arch"],
        k=ks,
    )


def table_files(pattern, dataset):
    """Expand a path pattern over the models of a data set's certificate table."""
    return model_files(pattern, dataset, section(dataset)["k"])


def table1_files(pattern):
    """Expand a {dataset}/{encoding}/{arch}/{k} path pattern over Table 1's models."""
    return table_files(pattern, "mnist")


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


def vote_shards(wildcards):
    """Return the vote shard files of one model, as many as its table's shards."""
    shards = section(wildcards.dataset)["shards"]
    return expand(
        f"{VOTES_DIR}/shard-{{shard}}-of-{shards}.npz", **wildcards, shard=range(shards)
    )


def lee_vote_shards(wildcards):
    """Return the shard files of one model's votes with Lee et al.'s sampling (table7)."""
    shards = config["table7"]["shards"]
    return expand(
        f"{LEE_VOTES_DIR}/shard-{{shard}}-of-{shards}.npz",
        **wildcards,
        shard=range(shards),
    )


def vote_settings(wildcards):
    """Sampling stages, batch size and precision of a data set's vote counting."""
    settings = section(wildcards.dataset)
    return {
        "stages": {
            "select": settings["n0"],
            "bound": settings["n"],
            "predict": settings["n_predict"],
        },
        "batch_size": settings["batch_size"],
        "precision": settings["precision"],
    }


def lee_vote_settings(wildcards):
    """Lee et al.'s sampling (table7): n0 and n only, no prediction stage."""
    settings = vote_settings(wildcards)
    t7 = config["table7"]
    settings["stages"] = {"select": t7["n0"], "bound": t7["n"]}
    return settings


def training_settings(wildcards):
    """Return the training settings of a data set, as configured."""
    settings = dict(config["training"][wildcards.dataset])
    baseline_epochs = config["attack"]["baseline_epochs"]
    if (
        wildcards.dataset == "mnist"
        and baseline_epochs
        and int(wildcards.k) == config["attack"]["baseline_k"]
    ):
        settings["epochs"] = baseline_epochs
    return settings


# The Pointwise attack (attack.smk): Table 2, its soundness table, Figures 3 and 5.
ATTACK_DIR = "results/attack/{dataset}/{encoding}/{arch}/k{k}"
TABLE2 = "results/tables/table2.csv"
ATTACK_SOUNDNESS = "results/tables/attack_soundness.csv"
FIGURE3 = "results/figures/figure3.png"
FIGURE5 = "results/figures/figure5.png"
PAPER_TABLE2 = (
    Path(workflow.basedir) / "resources" / "paper" / "table2_mnist_pointwise.csv"
)


def attack_file(pattern, k):
    """Fill a {dataset}/{encoding}/{arch}/{k} pattern for an attacked MNIST model."""
    t1 = config["table1"]
    return pattern.format(
        dataset="mnist", encoding=t1["encoding"], arch=t1["arch"], k=k
    )


def attack_shard_range(wildcards):
    """Return [start, stop) positions in the test set of an attack shard (balanced split)."""
    return balanced_range(
        wildcards.shard, wildcards.shards, config["attack"]["num_images"]
    )


def attack_shards(wildcards):
    """Return the attack shard files of one model, as many as config attack.shards."""
    shards = config["attack"]["shards"]
    return expand(
        f"{ATTACK_DIR}/shard-{{shard}}-of-{shards}.npz",
        dataset=wildcards.dataset,
        encoding=wildcards.encoding,
        arch=wildcards.arch,
        k=wildcards.k,
        shard=range(shards),
    )


def attack_certificates(wildcards):
    """The model's certificates (for the radius of each attacked image); none when k = d."""
    if int(wildcards.k) >= DATASETS["mnist"]["d"]:
        return []
    return CERTIFICATES.format(
        dataset=wildcards.dataset,
        encoding=wildcards.encoding,
        arch=wildcards.arch,
        k=wildcards.k,
    )


def attack_settings():
    """Return the per-image attack settings of the config (see randablate.attack)."""
    keys = ("n_query", "alpha", "starts", "init_steps", "init_tries")
    keys += ("l2_binary_search", "max_queries")
    return {key: config["attack"][key] for key in keys}


def built_tables():
    """The tables `snakemake` builds by default, by name: those whose data sets are available."""
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
    return figures
