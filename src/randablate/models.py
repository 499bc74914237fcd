"""Base classifiers, sized for the input channels an encoding produces."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import resnet

from .files import atomic_path


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
    """A bias-free 64-filter stem convolution, initialised as torchvision initialises its own."""
    conv = nn.Conv2d(
        in_channels, 64, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
    )
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


def _cifar_resnet(
    block: type[resnet.BasicBlock | resnet.Bottleneck],
    layers: list[int],
    in_channels: int,
    num_classes: int,
) -> resnet.ResNet:
    model = resnet.ResNet(block, layers, num_classes=num_classes)
    model.conv1 = _stem_conv(in_channels, kernel_size=3, stride=1)
    model.maxpool = nn.Identity()
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
    meta = blob["meta"]
    model = build_model(meta["arch"], meta["in_channels"], meta["num_classes"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    if device is not None:
        model.to(device)
    return model, meta
