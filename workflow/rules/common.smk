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


MNIST_D = 28 * 28
MNIST_TEST_IMAGES = 10_000
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def config_error(key, value, expected):
    """Return the ValueError for a config value that the JSON schema cannot reject."""
    return ValueError(f"invalid config: {key} = {value!r}; expected {expected}")


def check_k(key, k):
    """Raise ValueError unless 1 <= k <= d for MNIST."""
    if not 1 <= k <= MNIST_D:
        raise config_error(
            key, k, f"1 <= k <= d = {MNIST_D} (pixels of an MNIST image)"
        )


def check_alpha(key, alpha):
    """Raise ValueError unless 0 < alpha < 1."""
    if not 0.0 < alpha < 1.0:
        raise config_error(key, alpha, "a number strictly between 0 and 1")


def check_config(cfg):
    """Raise ValueError for config values the schema cannot express as wrong."""
    t1 = cfg["table1"]
    for k in t1["k"]:
        check_k("table1.k", k)
    check_alpha("table1.alpha", t1["alpha"])
    images = num_images(cfg)
    if images > MNIST_TEST_IMAGES:
        raise config_error(
            "table1.num_images",
            images,
            f"at most {MNIST_TEST_IMAGES} (the MNIST test set)",
        )
    if t1["shards"] > images:
        raise config_error(
            "table1.shards",
            t1["shards"],
            f"at most the number of evaluated images ({images})",
        )
    source_dir = cfg["mnist"]["source_dir"]
    if source_dir is not None and not os.path.isdir(source_dir):
        raise config_error(
            "mnist.source_dir",
            source_dir,
            "an existing directory holding the four MNIST IDX files, or null",
        )
    check_attack_config(cfg, images)
    train = cfg["training"]["mnist"]
    starts = [int(start) for start, _ in train["lr_schedule"]]
    if starts[0] != 1 or starts != sorted(set(starts)):
        raise config_error(
            "training.mnist.lr_schedule",
            train["lr_schedule"],
            "[start epoch, lr] pairs starting at epoch 1 with increasing start epochs",
        )


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


def num_images(cfg):
    """Return how many test images Table 1 certifies."""
    n = cfg["table1"]["num_images"]
    return MNIST_TEST_IMAGES if n is None else n


check_config(config)

DATA_DIR = config["data_dir"].rstrip("/")
MNIST_DIR = f"{DATA_DIR}/mnist"
PAPER_TABLE1 = (
    Path(workflow.basedir) / "resources" / "paper" / "table1_mnist_certificates.csv"
)

MODEL_DIR = "results/models/{dataset}/{encoding}/{arch}/k{k}"
VOTES_DIR = "results/votes/{dataset}/{encoding}/{arch}/k{k}"
CERTIFICATES = "results/certificates/{dataset}/{encoding}/{arch}/k{k}.csv"
TABLE1 = "results/tables/table1.csv"
PROVENANCE = "results/provenance.yaml"
FIGURE_CERTIFIED_ACCURACY = "results/figures/certified_accuracy_mnist.png"
FIGURE2 = "results/figures/figure2.png"
FIGURE4 = "results/figures/figure4.png"
DISCUSSION = "results/tables/discussion.csv"
PAPER_DISCUSSION = (
    Path(workflow.basedir) / "resources" / "paper" / "discussion_constants.csv"
)


wildcard_constraints:
    dataset="mnist",
    encoding="[a-z]+",
    arch="[a-z0-9]+",
    k=r"\d+",
    shard=r"\d+",
    shards=r"\d+",


def mnist_files(split=None):
    """Return the paths of the MNIST IDX files (of one split, or all four)."""
    prefix = {"train": "train-", "test": "t10k-", None: ""}[split]
    return [f"{MNIST_DIR}/{name}" for name in MNIST_FILES if name.startswith(prefix)]


def table1_files(pattern):
    """Expand a {dataset}/{encoding}/{arch}/{k} path pattern over Table 1's models."""
    t1 = config["table1"]
    return expand(
        pattern, dataset="mnist", encoding=t1["encoding"], arch=t1["arch"], k=t1["k"]
    )


def shard_range(wildcards):
    """Return [start, stop) positions in the test set of a vote shard (balanced split)."""
    shard, shards = int(wildcards.shard), int(wildcards.shards)
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    total = num_images(config)
    return [shard * total // shards, (shard + 1) * total // shards]


def vote_shards(wildcards):
    """Return the vote shard files of one model, as many as config table1.shards."""
    shards = config["table1"]["shards"]
    return expand(
        f"{VOTES_DIR}/shard-{{shard}}-of-{shards}.npz",
        dataset=wildcards.dataset,
        encoding=wildcards.encoding,
        arch=wildcards.arch,
        k=wildcards.k,
        shard=range(shards),
    )


def training_settings(wildcards):
    """Return the training settings of a data set, as configured."""
    settings = dict(config["training"][wildcards.dataset])
    baseline_epochs = config["attack"]["baseline_epochs"]
    if baseline_epochs and int(wildcards.k) == config["attack"]["baseline_k"]:
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
    shard, shards = int(wildcards.shard), int(wildcards.shards)
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    total = config["attack"]["num_images"]
    return [shard * total // shards, (shard + 1) * total // shards]


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
    if int(wildcards.k) >= MNIST_D:
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
