"""Training speed of the paper's MNIST CNN on ablated images, in fp32 and bf16.

    python benchmarks/train_epoch.py [--batches 60] [--k 45] [--threads 2] [--models N]

Runs `training.train_epoch` (shared keep-set per minibatch of 128, SGD with momentum, as in the
paper) on the first `--batches` minibatches of real MNIST (random images when MNIST is absent:
the cost does not depend on the pixels), once per precision, and prints the seconds per full
epoch of 60,000 images and the projected hours for the paper's 400 epochs. Compare the two
precisions as a ratio measured in one run; absolute times on a shared machine are noisy.

With `--models N`: instead, the second of two epochs of `train` for one model against that of
`train_many` for N models (k spread from 5 up by 5, fp32), on the same images, and the seconds
per model-epoch of each.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from randablate import training
from randablate.encoding import get_encoding
from randablate.models import build_model
from randablate.training import TrainSettings

EPOCH_IMAGES, EPOCHS, BATCH, TABLE1_MODELS = 60_000, 400, 128, 20


def mnist_images(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` MNIST training images, or random ones where MNIST is not at hand."""
    directory = os.path.join(os.environ.get("RANDABLATE_DATA", "data"), "mnist")
    try:
        from randablate.data import load_mnist

        images, labels = load_mnist(directory, "train")
        return images[:count], labels[:count]
    except Exception:
        gen = torch.Generator().manual_seed(0)
        return torch.rand(count, 1, 28, 28, generator=gen), torch.randint(0, 10, (count,))


def seconds_per_epoch(precision: str, images, labels, k: int, device: str) -> float:
    """Seconds one epoch of 60,000 images takes, from timing `len(images)` of them."""
    settings = TrainSettings(
        batch_size=BATCH, precision=precision, epochs=1, lr_schedule=[[1, 0.01]]
    )
    torch.manual_seed(0)
    model = build_model("cnn", 2, 10).to(device)
    optimizer = training._optimizer(model, settings)
    encoding = get_encoding("multichannel", 1)
    images, labels = images.to(device), labels.to(device)
    warm = images[: 4 * BATCH], labels[: 4 * BATCH]
    training.train_epoch(model, encoding, k, *warm, optimizer, settings, 1)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    training.train_epoch(model, encoding, k, images, labels, optimizer, settings, 2)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) * EPOCH_IMAGES / len(images)


def group_epoch_seconds(models: int, images, labels, device: str) -> float:
    """Seconds of the second epoch of 60,000 images: `train` (1 model) or `train_many`."""
    encoding = get_encoding("multichannel", 1)
    settings = [
        TrainSettings(batch_size=BATCH, epochs=2, lr_schedule=[[1, 0.01]], seed=row)
        for row in range(models)
    ]
    ks = [5 * (row + 1) for row in range(models)]
    nets = []
    for row in range(models):
        torch.manual_seed(row)
        nets.append(build_model("cnn", 2, 10))
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"{row}.pt" for row in range(models)]
        if models == 1:
            result = training.train(
                nets[0], encoding, ks[0], images, labels, settings[0], paths[0], device
            )
        else:
            (result, *_) = training.train_many(
                nets, encoding, ks, images, labels, settings, paths, device
            )
    return result["history"][1]["seconds"] * EPOCH_IMAGES / len(images)


def compare_group(models: int, images, labels, threads: int) -> None:
    """Print one epoch of `train` (1 model) against `train_many` (`models` models)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"MNIST CNN, batch {BATCH}, fp32, {device}, {threads} CPU threads")
    alone = group_epoch_seconds(1, images, labels, device)
    group = group_epoch_seconds(models, images, labels, device)
    print(f"train, 1 model:            {alone:7.1f} s/epoch, {alone:7.2f} s a model-epoch")
    print(
        f"train_many, {models:2d} models:    {group:7.1f} s/epoch, "
        f"{group / models:7.2f} s a model-epoch"
    )
    print(f"train_many's model-epoch takes {group / models / alone:.2f}x the time of train's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60, help="minibatches of 128 timed")
    parser.add_argument("--k", type=int, default=45)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--models", type=int, default=None, help="compare train_many of N")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = mnist_images(args.batches * BATCH)
    if args.models:
        compare_group(args.models, images, labels, args.threads)
        return
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"MNIST CNN, batch {BATCH}, k = {args.k}, {args.threads} CPU threads")
    print("device  precision  s/epoch  h for 400 epochs")
    rows = {}
    for device in devices:
        for precision in ("fp32", "bf16"):
            seconds = seconds_per_epoch(precision, images, labels, args.k, device)
            rows[device, precision] = seconds
            print(f"{device:6}  {precision:9}  {seconds:7.1f}  {seconds * EPOCHS / 3600:6.2f}")
    for device in devices:
        ratio = rows[device, "fp32"] / rows[device, "bf16"]
        print(f"{device}: bf16 is {ratio:.2f}x faster than fp32")
        for precision in ("fp32", "bf16"):
            hours = TABLE1_MODELS * EPOCHS * rows[device, precision] / 3600
            print(
                f"{device}: Table 1's {TABLE1_MODELS} models x {EPOCHS} epochs in {precision}: "
                f"~{hours:,.1f} {'GPU-' if device == 'cuda' else 'CPU-'}hours of training"
            )


if __name__ == "__main__":
    main()
