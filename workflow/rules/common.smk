"""The glue between Snakemake and randablate.layout: the config, PYTHONPATH, wildcards to calls."""

import os
import re
import sys
from pathlib import Path

# The checkout holding this workflow (workflow/rules/ is two levels down); workflow.basedir is the
# main Snakefile's directory, which is another one when this workflow is used as a module.
REPO = Path(workflow.current_basedir).resolve().parents[1]
# Jobs import the randablate package of this checkout, also inside the conda envs of
# workflow/envs/. Snakemake has no setting for a job's PYTHONPATH: `envvars:` passes this process's
# variable on to jobs (also to cluster and remote ones), so it is set here, once, before any job.
SRC_DIR = str(REPO / "src")
if SRC_DIR not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (SRC_DIR, os.environ.get("PYTHONPATH")) if p
    )


envvars:
    "PYTHONPATH",


# The layout, the data sets' facts and the config checks live in the library (torch-free).
if SRC_DIR not in sys.path:
    sys.path.insert(0, SRC_DIR)
from randablate import layout
from randablate.config import check_config, num_images
from randablate.datasets import DATASETS
from randablate.names import ENCODINGS, PAPER_DIR

check_config(config)

# Every result lives under results_dir (one per scale: results, results/quick, ...), and its log
# and benchmark under logs/ and logs/benchmarks/ at the same stem (layout.job_paths).
RESULTS = config["results_dir"].rstrip("/")


def result(path):
    """The path of a result under results_dir."""
    return layout.result(config, path)


def paths(stem, suffix=".csv", job=None):
    """A job's output, log and benchmark (layout.job_paths) under results_dir."""
    return layout.job_paths(RESULTS, stem, suffix, job)


MODEL_DIR = result(layout.MODELS)
MODEL = f"{MODEL_DIR}/model.pt"
VOTES = paths(f"{layout.VOTES}/votes", ".npz", job="gather")
CERTIFICATES = paths(layout.CERTIFICATES)
BASE_ACCURACY = paths(layout.BASE_ACCURACY, ".json")
ATTACK = paths(f"{layout.ATTACK}/attack", ".npz", job="gather")
TABLES = {n: paths(layout.TABLE.format(number=n)) for n in range(1, 9)}
FIGURES = {n: paths(layout.FIGURE.format(number=n), ".png") for n in range(1, 6)}
REPRODUCTION = paths(layout.REPRODUCTION)
PROVENANCE = paths(layout.PROVENANCE, ".yaml")

# The paper's printed tables and constants (read, never typed into code).
PAPER = REPO / PAPER_DIR
PAPER_TABLES = {n: PAPER / name for n, name in layout.PAPER_TABLES.items()}
# The paper's certificate table of each data set (Tables 1, 3, 6).
PAPER_CERTIFICATES = {d: PAPER_TABLES[n] for d, n in layout.CERTIFICATE_TABLES.items()}
PAPER_DISCUSSION = PAPER / "discussion_constants.csv"


wildcard_constraints:
    dataset="|".join(DATASETS),
    encoding="|".join(ENCODINGS),
    arch="[a-z0-9_]+",
    k=r"\d+",
    sampling="|".join(layout.SAMPLINGS),
    number=r"\d",
    shard=r"\d+",
    shards=r"\d+",
    groups=r"\d+",


def reported(path, caption, category, subcategory=None, scale=True, **labels):
    """An output in the report: caption workflow/report/<caption>.rst, labels (and the scale)."""
    labels |= {"scale": config["scale"]} if scale else {}
    caption = f"../report/{caption}.rst"
    return report(
        path, caption, category=category, subcategory=subcategory, labels=labels
    )


def job_threads(job):
    """A job's CPU threads: compute.<job>.threads (job: layout.COMPUTE_JOBS)."""
    return layout.job_threads(config, job)


def job_resources(job):
    """A job's resources: compute.<job>'s memory, and one GPU for layout.GPU_JOBS."""
    return layout.job_resources(config, job)


# The params of a job that takes a GPU lock (randablate.device).
GPU_LOCK = dict(lock_dir=config["compute"]["gpu_lock_dir"])
GPU_LOCK["jobs_per_gpu"] = config["compute"]["jobs_per_gpu"]


def by_wildcards(function, *names):
    """An input or params function: `function(config, <each named wildcard>)`."""
    return lambda wildcards: function(config, *(getattr(wildcards, n) for n in names))


def data_input(split):
    """Input function: the files (or directory) a job on `split` of {dataset} reads."""
    return lambda wildcards: layout.data_files(config, wildcards.dataset, split)


data_params = by_wildcards(layout.data_params, "dataset")
eval_data_params = by_wildcards(layout.eval_data_params, "dataset")
shard_range = by_wildcards(layout.shard_range, "dataset", "shard", "shards")
attack_shard_range = by_wildcards(layout.attack_shard_range, "k", "shard", "shards")


def shard_job_params(shard, positions):
    """The params every resumable shard job on a GPU has: lock, checkpoint, data, positions.

    `shard`: the job's paths (its checkpoint lies beside its output); `positions`: the params
    function of the test-set positions it covers.
    """
    partial = shard.file(".partial.npz")
    return dict(
        **GPU_LOCK, checkpoint=partial, data=eval_data_params, positions=positions
    )


def mnist_files(split=None):
    """The paths of the MNIST IDX files (of one split, or all four)."""
    return layout.mnist_files(config, split)


def section(dataset):
    """The config section holding a data set's certification settings."""
    return layout.section(config, dataset)


def section_value(key):
    """Params function: `key` of the {dataset}'s certification settings (its config section)."""
    return lambda wildcards: section(wildcards.dataset)[key]


def output_dir(wildcards, output):
    """Params function: the directory of the job's first output."""
    return os.path.dirname(output[0])


def scheme_value(key):
    """Param or input function: `key` of the job's sampling scheme (layout.sampling_scheme)."""
    scheme = by_wildcards(layout.sampling_scheme, "dataset", "sampling")
    return lambda wildcards: scheme(wildcards)[key]


def model_files(pattern, dataset, ks, encoding=None, arch=None, sampling="standard"):
    """Fill a model's path pattern for each k (default: the data set's table's model)."""
    return layout.model_paths(config, pattern, dataset, ks, encoding, arch, sampling)


def table_files(pattern, dataset):
    """Fill a model's path pattern for each model of a data set's certificate table."""
    return layout.table_paths(config, pattern, dataset)


def shard_files(pattern, shards):
    """Input function: every shard of a {shard}-of-{shards} pattern; shards: int or of wildcards."""

    def files(wildcards):
        count = shards(wildcards) if callable(shards) else shards
        return expand(pattern, **wildcards, shard=range(count), shards=count)

    return files


def attack_file(pattern, k):
    """Fill a model's path pattern for an attacked MNIST model (certificates: standard sampling)."""
    return model_files(pattern, "mnist", int(k))[0]


def table2_smoothed_inputs(wildcards, certificates=True):
    """The smoothed classifier's attack (and Table 1's certificates), if attack.smoothed is on."""
    if not config["attack"]["smoothed"]:
        return {}
    k = config["attack"]["k"]
    inputs = {"smoothed": attack_file(ATTACK.file(".csv"), k)}
    if certificates:  # the attacked model's accuracy cell is Table 1's
        inputs["certificates"] = attack_file(CERTIFICATES.output, k)
    return inputs
