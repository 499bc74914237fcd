"""Base classifiers, sized for the input channels an encoding produces."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import resnet

from .authors import AUTHORS_ARCHS, AUTHORS_NULL_MEANS, authors_checkpoint_name
from .files import atomic_path
from .provenance import model_provenance


def mnist_cnn(in_channels: int = 2, num_classes: int = 10) -> nn.Sequential:
    """The paper's MNIST CNN (Table 9); returns logits (the softmax is in the loss)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 128, kernel_size=4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 500),
        nn.ReLU(),
        nn.Linear(500, 100),
        nn.ReLU(),
        nn.Linear(100, num_classes),
    )


def _stem_conv(in_channels: int, kernel_size: int, stride: int) -> nn.Conv2d:
    """A bias-free 64-filter stem convolution with PyTorch's default initialisation."""
    return nn.Conv2d(
        in_channels, 64, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
    )


def _cifar_resnet(
    block: type[resnet.BasicBlock | resnet.Bottleneck],
    layers: list[int],
    in_channels: int,
    num_classes: int,
) -> resnet.ResNet:
    """torchvision's ResNet with a 3x3 stride-1 stem, no max-pool and PyTorch's default init."""
    # The blocks match the authors' pytorch_cifar ResNets layer for layer (their shortcut is
    # torchvision's downsample, linear is fc; the adaptive average pool equals their 4x4 pool on
    # 32x32 inputs). torchvision re-initialises every convolution with Kaiming fan-out, while
    # pytorch_cifar keeps PyTorch's default: reset them (batch norms start at 1 and 0 in both).
    model = resnet.ResNet(block, layers, num_classes=num_classes)
    model.conv1 = _stem_conv(in_channels, kernel_size=3, stride=1)
    model.maxpool = nn.Identity()
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.reset_parameters()
    return model


def cifar_resnet18(in_channels: int = 6, num_classes: int = 10) -> resnet.ResNet:
    """ResNet18 for 32x32 images: 3x3 stride-1 stem, no max-pool (CIFAR-10, Section 5)."""
    return _cifar_resnet(resnet.BasicBlock, [2, 2, 2, 2], in_channels, num_classes)


def cifar_resnet50(in_channels: int = 6, num_classes: int = 10) -> resnet.ResNet:
    """ResNet50 for 32x32 images: 3x3 stride-1 stem, no max-pool."""
    return _cifar_resnet(resnet.Bottleneck, [3, 4, 6, 3], in_channels, num_classes)


def imagenet_resnet50(in_channels: int = 6, num_classes: int = 1000) -> resnet.ResNet:
    """torchvision's ResNet50 (7x7 stride-2 stem, max-pool), untrained, for `in_channels` inputs."""
    model = resnet.resnet50(weights=None, num_classes=num_classes)
    model.conv1 = _stem_conv(in_channels, kernel_size=7, stride=2)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


ARCHITECTURES = {
    "cnn": mnist_cnn,
    "resnet18": cifar_resnet18,
    "resnet50": cifar_resnet50,
    "imagenet_resnet50": imagenet_resnet50,
}


def build_model(arch: str, in_channels: int, num_classes: int) -> nn.Module:
    """Build the architecture called `arch` for `in_channels` inputs and `num_classes` outputs."""
    try:
        factory = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(
            f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}"
        ) from None
    return factory(in_channels=in_channels, num_classes=num_classes)


def save_model(path: str | os.PathLike, model: nn.Module, meta: dict[str, Any]) -> None:
    """Save weights and the metadata that rebuilds the model (arch, in_channels, num_classes)."""
    missing = {"arch", "in_channels", "num_classes"} - set(meta)
    if missing:
        raise ValueError(f"model metadata lacks {sorted(missing)}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"meta": dict(meta), "state_dict": state}, tmp)


def load_model(
    path: str | os.PathLike, device: str | torch.device | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a model saved by `save_model`; returns it in eval mode with its metadata."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or not {"meta", "state_dict"} <= set(blob):
        found = sorted(blob)[:5] if isinstance(blob, dict) else type(blob).__name__
        raise ValueError(
            f"{path} is not a model file of save_model: expected a dict with 'meta' (arch, "
            f"in_channels, num_classes, k, encoding) and 'state_dict', found {found}; for a "
            "plain state dict, build the model with build_model and call load_state_dict, or "
            "wrap it with save_model(path, model, meta)"
        )
    meta = blob["meta"]
    model = build_model(meta["arch"], meta["in_channels"], meta["num_classes"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    if device is not None:
        model.to(device)
    return model, meta


# ---------------------------------------------------------------------------------------------
# The authors' released checkpoints (alevine0/randomizedAblation, checkpoints/)

_AUTHORS_FORMAT = (
    "a torch.save({'net': state_dict, 'acc': float, 'epoch': int}) file of the authors' "
    "nn.DataParallel net (keys module.*)"
)


def _authors_key(key: str, dataset: str) -> str:
    """Our name for a key of the authors' state dict (pytorch_cifar: shortcut, linear)."""
    if dataset != "cifar10":
        return key
    key = re.sub(r"^(layer\d+\.\d+)\.shortcut\.", r"\1.downsample.", key)
    return re.sub(r"^linear\.", "fc.", key)


def load_authors_checkpoint(
    path: str | os.PathLike, dataset: str, encoding: str, k: int, arch: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Load one of the authors' released checkpoints as our model, with `load_model`'s metadata."""
    from .datasets import DATASETS
    from .encoding import dataset_encoding

    path = Path(path)
    if dataset not in AUTHORS_ARCHS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(AUTHORS_ARCHS)}")
    arch = arch or AUTHORS_ARCHS[dataset][0]
    if arch not in AUTHORS_ARCHS[dataset]:
        raise ValueError(
            f"{path}: the authors' {dataset} models are {', '.join(AUTHORS_ARCHS[dataset])}, "
            f"not {arch!r}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    named = authors_checkpoint_name(path)
    if named is None:
        raise ValueError(
            f"{path}: not an authors' checkpoint name; expected e.g. "
            "mnist_lr_0.001_keep_45_epoch_399_....pth, with the model's k after keep_"
        )
    if named["k"] != k:
        raise ValueError(f"{path} holds a model for k={named['k']} (keep_{named['k']}), not k={k}")
    if named["dataset"] != dataset or named["encoding"] != encoding or named["arch"] != arch:
        raise ValueError(
            f"{path} holds the authors' {named['dataset']} {named['encoding']} {named['arch']} "
            f"model by its name, not the {dataset} {encoding} {arch} one asked for"
        )
    mean = AUTHORS_NULL_MEANS.get(dataset) if encoding == "mean" else None
    coding = dataset_encoding(encoding, dataset, mean)
    num_classes = DATASETS[dataset].num_classes
    model = build_model(arch, coding.out_channels, num_classes)
    expected = (
        f"the authors' {dataset} {arch} with {coding.out_channels} input channels "
        f"({encoding} encoding) in {_AUTHORS_FORMAT}"
    )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file fails in many ways
        raise ValueError(f"cannot read {path}: {e}; expected {expected}") from e
    if not isinstance(blob, dict) or not isinstance(blob.get("net"), dict):
        raise ValueError(f"{path} has no 'net' state dict; expected {expected}")
    net = blob["net"]
    if not all(isinstance(key, str) and key.startswith("module.") for key in net):
        raise ValueError(f"{path}: keys of 'net' lack the module. prefix; expected {expected}")
    state = {_authors_key(key.removeprefix("module."), dataset): v for key, v in net.items()}
    ours = model.state_dict()
    # BatchNorm's num_batches_tracked counter only counts updates; older PyTorch did not save it
    for key, value in ours.items():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, value)
    missing = sorted(set(ours) - set(state))
    unexpected = sorted(set(state) - set(ours))
    shapes = sorted(
        f"{key} {tuple(state[key].shape)} (expected {tuple(ours[key].shape)})"
        for key in set(ours) & set(state)
        if not isinstance(state[key], torch.Tensor) or state[key].shape != ours[key].shape
    )
    if missing or unexpected or shapes:
        problems = [
            f"{label}: {', '.join(items[:5])}{', ...' if len(items) > 5 else ''}"
            for label, items in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("shapes", shapes),
            )
            if items
        ]
        raise ValueError(f"{path} does not match {expected}; {'; '.join(problems)}")
    model.load_state_dict(state)
    model.eval()
    meta = {
        "arch": arch,
        "in_channels": coding.out_channels,
        "num_classes": num_classes,
        "k": k,
        "dataset": dataset,
        **coding.describe(),
        "seed": None,
        "training": None,
        "train_images": None,
        "history": [],
        "authors_checkpoint": {
            "file": path.name,
            "acc": None if blob.get("acc") is None else float(blob["acc"]),
            "epoch": None if blob.get("epoch") is None else int(blob["epoch"]),
        },
    }
    return model, meta


def import_authors_checkpoint(
    checkpoint: str | os.PathLike,
    model_path: str | os.PathLike,
    *,
    dataset: str,
    encoding: str,
    k: int,
    arch: str | None,
    repo: str | os.PathLike,
) -> None:
    """Save one of the authors' released checkpoints as our model file, naming it as the source."""
    model, meta = load_authors_checkpoint(checkpoint, dataset, encoding, k, arch)
    source = f"the authors' released checkpoint {checkpoint}"
    meta["provenance"] = model_provenance(repo, source=source)
    save_model(model_path, model, meta)
