"""What the pipeline loads: a data set's split, its training data, the evaluated test images."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from randablate.datasets import DATASETS
from randablate.seeding import derive_seed

from . import cifar10, imagenet, mnist


def load_split(
    dataset: str, directory: str | os.PathLike, split: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return an in-memory split (images in [0,1], int64 labels) of MNIST or CIFAR-10."""
    if dataset == "mnist":
        return mnist.load_mnist(directory, split)
    if dataset == "cifar10":
        return cifar10.load_cifar10(directory, split)
    if dataset == "imagenet":
        raise ValueError(
            "imagenet is too large to load into memory: use imagenet_eval_subset, "
            "load_imagenet_images and imagenet_train_dataset"
        )
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(DATASETS)}")


@dataclass
class TrainingData:
    """A data set's training split as the training loop takes it."""

    images: torch.Tensor | torch.utils.data.Dataset
    labels: torch.Tensor | None
    num_classes: int
    count: int


def load_training_data(dataset: str, directory: str | os.PathLike) -> TrainingData:
    """The training split of `dataset`: tensors (MNIST, CIFAR-10) or an augmenting Dataset."""
    info = DATASETS[dataset]
    if dataset == "imagenet":
        train_set = imagenet.imagenet_train_dataset(directory, size=info.height)
        return TrainingData(train_set, None, info.num_classes, len(train_set))
    images, labels = load_split(dataset, directory, "train")
    return TrainingData(images, labels, info.num_classes, len(images))


def eval_positions(total: int, count: int | None, subset: str, seed: int) -> np.ndarray:
    """Positions in a test set of `total` images of the `count` evaluated ones (all if None).

    `subset` "first" takes positions 0..count-1; "seeded" draws `count` positions without
    replacement from a generator seeded with `seed`, returned in increasing order.
    """
    if count is None or count >= total:
        return np.arange(total, dtype=np.int64)
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if subset == "first":
        return np.arange(count, dtype=np.int64)
    if subset == "seeded":
        chosen = np.random.default_rng(seed).choice(total, size=count, replace=False)
        return np.sort(chosen).astype(np.int64)
    raise ValueError(f"subset must be 'first' or 'seeded', got {subset!r}")


def load_eval_images(
    data: Mapping[str, Any], start: int = 0, stop: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Evaluated images [start, stop) of a pipeline data spec: images, labels, image indices.

    `data` has "dataset", "dir" and, for ImageNet, "subset" (the CSV of imagenet_eval_subset).
    MNIST and CIFAR-10 evaluate their test sets in order, or, where `data` has "count" (not
    None), the test images at `eval_positions` of that count and data["subset"], with a seed
    derived from data["seed"] and the data set.
    """
    dataset = data["dataset"]
    if dataset == "imagenet":
        import pandas as pd  # imported lazily: only ImageNet needs it

        subset = pd.read_csv(data["subset"]).iloc[start:stop]
        images = imagenet.load_imagenet_images(
            data["dir"], list(subset["file"]), DATASETS[dataset].height
        )
        labels = torch.as_tensor(subset["label"].to_numpy(), dtype=torch.int64)
        return images, labels, subset["position"].to_numpy(dtype=np.int64)
    images, labels = load_split(dataset, data["dir"], "test")
    positions = np.arange(len(images), dtype=np.int64)
    if data.get("count") is not None:
        seed = derive_seed(data["seed"], "eval-subset", dataset)
        positions = eval_positions(len(images), data["count"], data["subset"], seed)
    positions = positions[start:stop]
    index = torch.from_numpy(positions)
    return images[index], labels[index], positions
