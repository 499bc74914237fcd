"""Base classifiers, sized for the input channels an encoding produces."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

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


ARCHITECTURES = {"cnn": mnist_cnn}


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
