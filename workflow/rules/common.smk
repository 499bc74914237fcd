"""Shared helpers: config checks, target paths, input functions, wildcard constraints."""

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


def check_config(cfg):
    """Raise ValueError for config values the schema cannot express as wrong."""
    t1 = cfg["table1"]
    for k in t1["k"]:
        if not 1 <= k <= MNIST_D:
            raise config_error(
                "table1.k", k, f"1 <= k <= d = {MNIST_D} (pixels of an MNIST image)"
            )
    if not 0.0 < t1["alpha"] < 1.0:
        raise config_error(
            "table1.alpha", t1["alpha"], "a number strictly between 0 and 1"
        )
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
    train = cfg["training"]["mnist"]
    starts = [int(start) for start, _ in train["lr_schedule"]]
    if starts[0] != 1 or starts != sorted(set(starts)):
        raise config_error(
            "training.mnist.lr_schedule",
            train["lr_schedule"],
            "[start epoch, lr] pairs starting at epoch 1 with increasing start epochs",
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
FIGURE_CERTIFIED_ACCURACY = "results/figures/certified_accuracy_mnist.png"


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
    return dict(config["training"][wildcards.dataset])
