"""Time the training of feature-partition submodels and their votes, at given settings.

    python benchmarks/fpa_submodel.py --data-dir /root/mnist --groups 10 --submodels 1 \
        --epochs 2 --images 10000 --precision bf16

Trains the first `--submodels` submodels of a T-group ensemble (each on all `--images` training
images, every pixel outside its group NULL), prints the seconds each took and its accuracy on
the first 1,000 test images, then, with `--submodels` = T, the ensemble's certified accuracy and
median certificate on those images. Multiply a submodel's seconds by the sum of the T values to
project an ensemble's training time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from randablate.certificates import median_or_na
from randablate.data import load_mnist
from randablate.encoding import Encoding, get_encoding
from randablate.models import build_model
from randablate.partition import (
    certify,
    group_masks,
    submodel_predictions,
    submodel_settings,
    train_submodels,
    vote_counts,
)


def train_submodel(
    images: torch.Tensor,
    labels: torch.Tensor,
    encoding: Encoding,
    mask: torch.Tensor,
    training: dict,
    seed: int,
    path: Path,
) -> tuple[nn.Module, float]:
    """Train the submodel of `mask` on the CPU from `seed`; return it and the seconds it took."""
    torch.manual_seed(seed)
    model = build_model("cnn", encoding.out_channels, 10)
    started = time.perf_counter()
    settings = [submodel_settings(training, seed)]
    train_submodels([model], encoding, mask.unsqueeze(0), images, labels, settings, [path], "cpu")
    return model, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--submodels", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = load_mnist(args.data_dir, "train")
    test_x, test_y = load_mnist(args.data_dir, "test")
    test_x, test_y = test_x[:1000], test_y[:1000]
    encoding = get_encoding("multichannel", 1)
    masks = group_masks(28, 28, args.groups)[: args.submodels]
    training = {
        "epochs": args.epochs,
        "batch_size": 128,
        "optimizer": "adamw",
        "lr": args.lr,
        "lr_schedule": "cosine",
        "weight_decay": 1e-3,
        "precision": args.precision,
        "checkpoint_every": args.epochs,
        "max_train_images": args.images,
    }
    models = []
    with tempfile.TemporaryDirectory() as tmp:
        for t, mask in enumerate(masks):
            path = Path(tmp) / f"g{t}.pt"
            model, seconds = train_submodel(images, labels, encoding, mask, training, t, path)
            pred = submodel_predictions([model], encoding, mask.unsqueeze(0), test_x, 1000)
            accuracy = float((pred[:, 0] == test_y.numpy()).mean())
            print(
                f"submodel {t} of T={args.groups}: {seconds:.1f} s, test accuracy {accuracy:.3f}",
                flush=True,
            )
            models.append(model)
    if len(models) == args.groups:
        started = time.perf_counter()
        pred = submodel_predictions(models, encoding, masks, test_x, 1000, args.precision)
        seconds = time.perf_counter() - started
        _, radius = certify(vote_counts(pred, 10), test_y.numpy())
        robustness = np.where(radius >= 0, radius, -np.inf)
        print(
            f"T={args.groups}: certified accuracy at rho=0 {np.mean(radius >= 0):.3f}, "
            f"median {median_or_na(robustness)}, "
            f"votes {seconds / len(test_x) * 1e3:.2f} ms an image"
        )


if __name__ == "__main__":
    main()
