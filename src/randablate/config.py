"""Checks of a pipeline config that its JSON schema cannot express, each naming the key.

The schema (workflow/schemas/config.schema.yaml) checks every type, range and name it can: alpha
strictly between 0 and 1, the enums, that every key is there. What is left needs a data set's
facts (k <= d and image indices within the test set, from `datasets.DATASETS`), two keys at once,
a file system or a statistic: schedules in order, shards no more than images, an existing
mnist.source_dir, and enough votes per attack query for the binomial test to ever decide. The
workflow calls `check_config` at parse time, so a bad value fails before any job runs. Torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .datasets import DATASETS

__all__ = [
    "IMAGE_KEYS",
    "PIXEL_KEYS",
    "ConfigError",
    "attacked_images",
    "authors_checkpoints",
    "check_config",
    "num_images",
]

AUTHORS_IMAGENET_IMAGES = 400  # the authors' list of ImageNet validation images

# Each key holding numbers of retained pixels k (fpa.groups: FPA's T), at most d of its data set.
PIXEL_KEYS: dict[str, str] = {
    **{f"{info.section}.k": name for name, info in DATASETS.items()},
    "base_accuracy.k": "cifar10",
    "table7.mnist_k": "mnist",
    "table7.imagenet_k": "imagenet",
    "table8.mnist_k": "mnist",
    "table8.cifar10_k": "cifar10",
    "fpa.groups": "mnist",
    "attack.k": "mnist",
    "attack.baseline_k": "mnist",
    "figures.figure1_k": "mnist",
    "figures.figure2_k": "mnist",
    "figures.figure4_k": "mnist",
}
# Each key holding the index of a test image of its data set.
IMAGE_KEYS: dict[str, str] = {
    "figures.figure1_image": "mnist",
    "figures.figure4_image": "mnist",
}


class ConfigError(ValueError):
    """A config value that is wrong given the rest of the config."""


def config_error(key: str, value: object, expected: str) -> ConfigError:
    """The error for `key` = `value`, saying what was expected."""
    return ConfigError(f"invalid config: {key} = {value!r}; expected {expected}")


def num_images(cfg: Mapping[str, Any], dataset: str) -> int:
    """How many test (ImageNet: validation) images a data set's certificate table certifies."""
    if dataset == "imagenet":
        return int(cfg["imagenet"]["num_images"])
    info = DATASETS[dataset]
    n = cfg[info.section]["num_images"]
    return int(info.test_images if n is None else n)


def attacked_images(cfg: Mapping[str, Any], k: int) -> int:
    """How many of the attack images the attacked model with k retained pixels is attacked on."""
    attack = cfg["attack"]
    smoothed = attack["smoothed_images"]
    if int(k) == attack["k"] and int(k) != attack["baseline_k"] and smoothed is not None:
        return int(smoothed)
    return int(attack["num_images"])


def _at(cfg: Mapping[str, Any], key: str) -> Any:
    """The value of a dotted `key` ("table1.k") in `cfg`."""
    value: Any = cfg
    for part in key.split("."):
        value = value[part]
    return value


def _check_dataset_facts(cfg: Mapping[str, Any]) -> None:
    """Each k at most its data set's d, each image index within its test set."""
    for key, dataset in PIXEL_KEYS.items():
        info, value = DATASETS[dataset], _at(cfg, key)
        if max(value if isinstance(value, list) else [value]) > info.d:
            each = "each " if isinstance(value, list) else ""
            expected = f"{each}at most d = {info.d}, the pixels of one {info.title} image"
            raise config_error(key, value, expected)
    for key, dataset in IMAGE_KEYS.items():
        info, value = DATASETS[dataset], _at(cfg, key)
        if info.test_images is not None and value >= info.test_images:
            expected = f"an index below {info.test_images}, the images of the {info.title} test set"
            raise config_error(key, value, expected)


def _check_certification(cfg: Mapping[str, Any], dataset: str) -> None:
    info = DATASETS[dataset]
    settings = cfg[info.section]
    images = num_images(cfg, dataset)
    if info.test_images is not None and images > info.test_images:
        raise config_error(
            f"{info.section}.num_images",
            images,
            f"at most {info.test_images} (the {info.title} test set)",
        )
    if settings["shards"] > images:
        raise config_error(
            f"{info.section}.shards",
            settings["shards"],
            f"at most the number of evaluated images ({images})",
        )


def _check_schedule(cfg: Mapping[str, Any], dataset: str) -> None:
    schedule = cfg["training"][dataset]["lr_schedule"]
    starts = [int(start) for start, _ in schedule]
    if starts[0] != 1 or starts != sorted(set(starts)):
        raise config_error(
            f"training.{dataset}.lr_schedule",
            schedule,
            "[start epoch, lr] pairs starting at epoch 1 with increasing start epochs",
        )


def _check_attack(cfg: Mapping[str, Any]) -> None:
    from .certificates import least_votes_to_decide  # scipy, imported when checking

    attack = cfg["attack"]
    certified = num_images(cfg, "mnist")
    if attack["num_images"] > certified:
        raise config_error(
            "attack.num_images",
            attack["num_images"],
            f"at most the {certified} images Table 1 certifies (table1.num_images)",
        )
    smoothed = attack["smoothed_images"]
    if smoothed is not None and smoothed > attack["num_images"]:
        raise config_error(
            "attack.smoothed_images",
            smoothed,
            f"at most attack.num_images ({attack['num_images']}), or null for all of them",
        )
    fewest = attacked_images(cfg, attack["k"])  # at most num_images, checked above
    if attack["shards"] > fewest:
        raise config_error(
            "attack.shards",
            attack["shards"],
            f"at most the number of images a model is attacked on ({fewest}: "
            "attack.num_images, attack.smoothed_images)",
        )
    baseline_epochs = cfg["training"]["baseline_epochs"]
    if baseline_epochs and attack["baseline_k"] in cfg["table1"]["k"]:
        raise config_error(
            "training.baseline_epochs",
            baseline_epochs,
            "null while attack.baseline_k is one of table1.k (a Table 1 model)",
        )
    least = least_votes_to_decide(attack["alpha"])
    if attack["n_query"] < least:
        raise config_error(
            "attack.n_query",
            attack["n_query"],
            f"at least {least}: with fewer votes even a unanimous vote abstains at alpha",
        )


def training_groups(models: list[tuple[int, Mapping[str, Any]]], size: int) -> list[list[int]]:
    """The ks of each training job: models (k, training settings) of equal settings, `size` a job.

    Groups follow increasing k; a model whose settings no other shares trains alone.
    """
    if size < 1:
        raise config_error("training.group_size", size, "an integer >= 1")
    by_settings: dict[str, list[int]] = {}
    for k, settings in sorted(models, key=lambda item: item[0]):
        by_settings.setdefault(repr(sorted(settings.items())), []).append(k)
    groups = []
    for ks in by_settings.values():
        groups += [ks[start : start + size] for start in range(0, len(ks), size)]
    return sorted(groups)


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise ConfigError, naming the key, for a value that is wrong given the rest of `cfg`."""
    _check_dataset_facts(cfg)
    for dataset in DATASETS:
        _check_certification(cfg, dataset)
        _check_schedule(cfg, dataset)
    source_dir = cfg["mnist"]["source_dir"]
    if source_dir is not None and not os.path.isdir(source_dir):
        raise config_error(
            "mnist.source_dir",
            source_dir,
            "an existing directory holding the four MNIST IDX files, or null",
        )
    imagenet = cfg["imagenet"]
    if imagenet["subset"] == "authors" and imagenet["num_images"] > AUTHORS_IMAGENET_IMAGES:
        raise config_error(
            "imagenet.num_images",
            imagenet["num_images"],
            f"at most {AUTHORS_IMAGENET_IMAGES} while imagenet.subset is authors "
            "(the authors' list)",
        )
    _check_attack(cfg)
    _check_fpa(cfg)


def _check_fpa(cfg: Mapping[str, Any]) -> None:
    fpa = cfg["fpa"]
    missing = sorted(set(fpa["compare_k"]) - set(cfg["table1"]["k"]))
    if missing:
        raise config_error(
            "fpa.compare_k",
            fpa["compare_k"],
            f"values of table1.k {cfg['table1']['k']} (the models compared); {missing} is not",
        )


def authors_checkpoints(cfg: Mapping[str, Any]) -> dict[tuple[str, str, str, int], Path]:
    """The authors' checkpoint per (dataset, encoding, arch, k) in authors_checkpoints.dir."""
    from .authors import find_authors_checkpoints

    directory = cfg["authors_checkpoints"]["dir"]
    if directory is None:
        return {}
    expected = "a directory holding the authors' released checkpoints (.pth), or null"
    if not os.path.isdir(directory):
        raise config_error("authors_checkpoints.dir", directory, expected)
    found = find_authors_checkpoints(directory)
    if not found:
        raise config_error(
            "authors_checkpoints.dir",
            directory,
            f"{expected}; it has no file named as theirs (e.g. mnist_lr_0.001_keep_45_....pth)",
        )
    return found
