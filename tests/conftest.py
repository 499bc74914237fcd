"""Shared fixtures: real MNIST (fetched and verified once) and a briefly trained base classifier."""

from __future__ import annotations

import os

import pytest
import torch

from randablate.data import DataError, default_cache_dir, ensure_mnist, load_mnist
from randablate.encoding import get_encoding
from randablate.models import build_model
from randablate.training import TrainSettings, train


@pytest.fixture(scope="session")
def mnist() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """MNIST train and test splits as float images in [0, 1] and labels."""
    try:
        directory = ensure_mnist(default_cache_dir())
    except DataError:
        if os.environ.get("RANDABLATE_REQUIRE_MNIST") == "1":
            raise
        pytest.skip("MNIST could not be obtained here (set RANDABLATE_REQUIRE_MNIST=1 to fail)")
    return {split: load_mnist(directory, split) for split in ("train", "test")}


@pytest.fixture(scope="session")
def trained_k45(mnist, tmp_path_factory) -> torch.nn.Module:
    """A multichannel k = 45 CNN trained for one short epoch (about 90% base accuracy)."""
    images, labels = mnist["train"]
    encoding = get_encoding("multichannel", 1)
    torch.manual_seed(0)
    model = build_model("cnn", encoding.out_channels, 10)
    settings = TrainSettings(
        epochs=1,
        optimizer="adam",
        lr_schedule=[[1, 1e-3]],
        precision="bf16",
        max_train_images=20000,
    )
    checkpoint = tmp_path_factory.mktemp("train") / "checkpoint.pt"
    train(model, encoding, 45, images, labels, settings, checkpoint)
    return model.eval()
