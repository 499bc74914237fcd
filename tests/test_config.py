"""randablate.config: the checks a JSON schema cannot make, each naming the key; the schema itself.

config.yaml is the one source of every default: the schema sets none and requires every key.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import CONFIG, REPO, SNAKEFILE, snakemake, write_config
from scipy import stats

from randablate.certificates import least_votes_to_decide
from randablate.config import (
    IMAGE_KEYS,
    PIXEL_KEYS,
    ConfigError,
    attacked_images,
    check_config,
    num_images,
    training_groups,
)
from randablate.datasets import DATASETS
from randablate.names import ENCODINGS, PRECISIONS

PAPER = yaml.safe_load((REPO / CONFIG).read_text())
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


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
        (
            lambda c: c["table1"].update(k=[45, 785]),
            "table1.k = [45, 785]; expected each at most d = 784, the pixels of one MNIST image",
        ),
        (
            lambda c: c["table3"].update(k=[1025]),
            "table3.k = [1025]; expected each at most d = 1024, the pixels of one CIFAR-10 image",
        ),
        (
            lambda c: c["table6"].update(k=[500, 50_177]),
            "table6.k = [500, 50177]; expected each at most d = 50176, the pixels of one ImageNet",
        ),
        (lambda c: c["base_accuracy"].update(k=[1025]), "base_accuracy.k = [1025]; expected each"),
        (lambda c: c["table7"].update(imagenet_k=50_177), "table7.imagenet_k = 50177; expected at"),
        (lambda c: c["table8"].update(cifar10_k=1025), "table8.cifar10_k = 1025; expected at most"),
        (lambda c: c["attack"].update(baseline_k=785), "attack.baseline_k = 785; expected at most"),
        (lambda c: c["fpa"].update(groups=[25, 785]), "fpa.groups = [25, 785]; expected each at"),
        (lambda c: c["figures"].update(figure2_k=[785]), "figures.figure2_k = [785]; expected"),
        (
            lambda c: c["figures"].update(figure4_image=10_000),
            "figures.figure4_image = 10000; expected an index below 10000, the images of the MNIST",
        ),
    ],
)
def test_each_bad_value_is_refused_naming_its_key(change, message):
    with pytest.raises(ConfigError, match="invalid config") as error:
        check_config(changed(change))
    assert message in str(error.value)


def test_k_may_reach_d_and_an_image_index_the_last_test_image():
    edge = changed(lambda c: c["table1"].update(k=[5, 45, 784]))
    edge["table6"]["k"] = [50_176]
    edge["table8"]["cifar10_k"] = 1024
    edge["figures"].update(figure1_image=9999, figure4_k=784)
    check_config(edge)


def schema_keys(node: dict, prefix: str = "") -> dict[str, dict]:
    """Every key the schema describes (dotted), with its subschema, following $ref into $defs."""
    properties = {}
    if "$ref" in node:
        properties.update(SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]["properties"])
    for name, subschema in node.get("properties", {}).items():
        properties[name] = {**properties.get(name, {}), **subschema}
    keys = {}
    for name, subschema in properties.items():
        keys[prefix + name] = subschema
        if "properties" in subschema or "$ref" in subschema:
            keys.update(schema_keys(subschema, f"{prefix}{name}."))
    return keys


def config_keys(config: dict, prefix: str = "") -> list[str]:
    """Every key a config sets (dotted), sections and their keys."""
    keys = []
    for name, value in config.items():
        keys.append(prefix + name)
        if isinstance(value, dict):
            keys += config_keys(value, f"{prefix}{name}.")
    return keys


def defaults_in(node: object, path: str = "") -> list[str]:
    """Where a schema sets a `default`, anywhere in it."""
    if isinstance(node, list):
        return [hit for i, item in enumerate(node) for hit in defaults_in(item, f"{path}[{i}]")]
    if not isinstance(node, dict):
        return []
    here = [path or "/"] if "default" in node else []
    below = [hit for key, value in node.items() for hit in defaults_in(value, f"{path}/{key}")]
    return here + below


def test_the_schema_sets_no_default_so_config_yaml_is_their_one_source():
    assert defaults_in(SCHEMA) == []
    planted = copy.deepcopy(SCHEMA)
    planted["properties"]["table6"]["properties"]["arch"]["default"] = "imagenet_resnet50"
    assert defaults_in(planted) == ["/properties/table6/properties/arch"]


def test_config_yaml_sets_every_key_the_schema_describes_and_no_other():
    described = schema_keys(SCHEMA)
    assert sorted(config_keys(PAPER)) == sorted(described)
    assert len(described) > 150
    assert [key for key, subschema in described.items() if not subschema.get("description")] == []


def test_the_schema_requires_every_key_so_a_config_lacking_one_fails_naming_it():
    validator = jsonschema.Draft202012Validator(SCHEMA)
    validator.validate(PAPER)
    for key in config_keys(PAPER):
        *section, name = key.split(".")
        config = copy.deepcopy(PAPER)
        parent = config
        for part in section:
            parent = parent[part]
        del parent[name]
        errors = list(validator.iter_errors(config))
        assert [(e.message, list(e.path)) for e in errors] == [
            (f"{name!r} is a required property", section)
        ], key


def test_every_k_the_schema_bounds_by_d_is_checked_against_its_data_set():
    described = schema_keys(SCHEMA)
    bounded = {key for key, subschema in described.items() if "<= d" in subschema["description"]}
    assert bounded == set(PIXEL_KEYS)
    indices = {key for key in described if key.endswith("_image")}
    assert indices == set(IMAGE_KEYS)
    for key, dataset in {**PIXEL_KEYS, **IMAGE_KEYS}.items():
        # the data set a key is checked against is its table's, or the one its description names
        text = described[key]["description"]
        named = {name for name, info in DATASETS.items() if info.title in text}
        tables = {name for name, info in DATASETS.items() if key == f"{info.section}.k"}
        assert named | tables == {dataset}, key


def test_the_schemas_encodings_and_precisions_are_the_librarys():
    described = schema_keys(SCHEMA)
    names = {"encoding": list(ENCODINGS), "precision": list(PRECISIONS)}
    enums = {key: s["enum"] for key, s in described.items() if key.rsplit(".")[-1] in names}
    assert len(enums) == 14  # 4 encodings (table1, 3, 6, fpa), 10 precisions
    assert {key: names[key.rsplit(".")[-1]] for key in enums} == enums


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["table1"].update(k=[45, 785]), "table1.k = [45, 785]; expected each at most"),
        (lambda c: c["table6"].pop("batch_size"), "'batch_size' is a required property"),
    ],
)
def test_a_bad_config_fails_a_dry_run_before_any_job_naming_the_key(tmp_path, change, message):
    write_config(tmp_path, changed(change))
    run = snakemake(tmp_path, "-n", "--cores", "1", "results/tables/table1.csv")
    assert run.returncode != 0
    assert message in run.stderr + run.stdout


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


def test_config_checks_dataset_facts_and_names_import_neither_torch_nor_numpy_nor_pandas():
    code = "import sys, randablate.config, randablate.datasets, randablate.names\n"
    code += "print(sorted(m for m in ('torch', 'numpy', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_training_groups_gather_equal_settings_in_increasing_k():
    paper = {"epochs": 400, "lr": 0.01}
    short = {"epochs": 20, "lr": 0.01}
    models = [(k, paper) for k in (50, 5, 20, 10, 45)] + [(784, short), (30, short)]
    assert training_groups(models, 2) == [[5, 10], [20, 45], [30, 784], [50]]
    assert training_groups(models, 10) == [[5, 10, 20, 45, 50], [30, 784]]
    assert training_groups(models, 1) == [[5], [10], [20], [30], [45], [50], [784]]
    with pytest.raises(ConfigError, match=r"training\.group_size"):
        training_groups(models, 0)
