"""Table 1 on one device: train its 20 models together for a few epochs, count votes, project.

    python benchmarks/table1_gpu.py [--epochs 2] [--train-images 60000] [--vote-images 1000]

On whatever device is present (CUDA when available, else the CPU), at the paper's Table 1
settings (20 MNIST CNNs, k = 5 ... 100, batch 128, SGD; votes n0 = 1,000 and n = 10,000 per
image, the prediction from the bound samples): trains the 20 models as one with
`randablate.training.train_many` for --epochs epochs on --train-images images (on a CPU, one
minibatch), then counts votes for --vote-images test images at each k (on a CPU, 1 image at 2
values of k). It prints the seconds of the last training epoch and of the votes per image, and
projects the minutes of Table 1: 400 epochs of 60,000 images, and votes for 10,000 images at
each of the 20 k. Vote counting stops starting new k after --vote-budget seconds and projects
from the k it counted.
The weights and images need not be meaningful: the cost does not depend on them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from randablate.encoding import get_encoding
from randablate.models import build_model
from randablate.smoothing import Smoothed, count_votes
from randablate.training import TrainSettings, train_many

KS = list(range(5, 101, 5))
EPOCHS, EPOCH_IMAGES, TEST_IMAGES, N0, N = 400, 60_000, 10_000, 1_000, 10_000


def mnist_or_random(split: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` MNIST images of `split` where MNIST is at hand, else random ones."""
    import os

    try:
        from randablate.data import load_mnist

        directory = os.path.join(os.environ.get("RANDABLATE_DATA", "data"), "mnist")
        images, labels = load_mnist(directory, split)
        return images[:count], labels[:count]
    except Exception:
        gen = torch.Generator().manual_seed(0)
        return torch.rand(count, 1, 28, 28, generator=gen), torch.randint(0, 10, (count,))


def vote(smoothed: Smoothed, images: torch.Tensor, labels: torch.Tensor, out: Path) -> None:
    """Count Table 1's votes (select n0, bound n) for every image: the one call of the vote API."""
    stages = {"select": N0, "bound": N}
    count_votes(smoothed, images, labels, np.arange(len(images)), stages, 0, out)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cuda = torch.cuda.is_available()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=EPOCH_IMAGES if cuda else 128)
    parser.add_argument("--vote-images", type=int, default=1000 if cuda else 1)
    parser.add_argument("--vote-ks", type=int, default=len(KS) if cuda else 2)
    parser.add_argument("--vote-budget", type=float, default=150.0, help="seconds")
    parser.add_argument("--vote-batch", type=int, default=10_000 if cuda else 1000)
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--compile", action="store_true", help="train with compile_step")
    args = parser.parse_args()
    device = torch.device("cuda" if cuda else "cpu")
    encoding = get_encoding("multichannel", 1)
    print(f"device {device}; precision {args.precision}; {len(KS)} models, k = 5 ... 100")

    images, labels = mnist_or_random("train", args.train_images)
    settings = [
        TrainSettings(
            epochs=args.epochs, lr_schedule=[[1, 0.01]], precision=args.precision, seed=row
        )
        for row in range(len(KS))
    ]
    models = []
    for row in range(len(KS)):
        torch.manual_seed(row)
        models.append(build_model("cnn", encoding.out_channels, 10))
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"k{k}.pt" for k in KS]
        started = time.perf_counter()
        results = train_many(
            models, encoding, KS, images, labels, settings, paths, device, compile_step=args.compile
        )
        sync(device)
        total = time.perf_counter() - started
        epoch = results[0]["history"][-1]["seconds"] * EPOCH_IMAGES / len(images)
        print(
            f"training: {args.epochs} epochs of {len(images)} images for {len(KS)} models in "
            f"{total:.1f} s; the last epoch at 60,000 images: {epoch:.2f} s "
            f"({1000 * epoch / len(KS):.0f} ms a model-epoch)"
        )

        test, test_labels = mnist_or_random("test", args.vote_images)
        per_image, counted = [], []
        votes_started = time.perf_counter()
        for model, k in list(zip(models, KS, strict=True))[: args.vote_ks]:
            if counted and time.perf_counter() - votes_started > args.vote_budget:
                break
            smoothed = Smoothed(
                model, k, encoding, 10, args.vote_batch, args.precision, device=device
            )
            vote(smoothed, test[:1], test_labels[:1], Path(tmp) / "warm.npz")  # warm-up
            sync(device)
            started = time.perf_counter()
            vote(smoothed, test, test_labels, Path(tmp) / f"votes-k{k}.npz")
            sync(device)
            per_image.append((time.perf_counter() - started) / len(test))
            counted.append(k)
        ms = 1000 * sum(per_image) / len(per_image)
        print(f"votes: {len(test)} images at k = {counted}: {ms:.2f} ms a certified image")

    train_minutes = epoch * EPOCHS / 60
    vote_minutes = ms / 1000 * TEST_IMAGES * len(KS) / 60
    print(f"projected, all of Table 1 on this device ({device}):")
    print(f"  training {len(KS)} models x {EPOCHS} epochs together: {train_minutes:8.1f} min")
    print(f"  votes, {TEST_IMAGES} images x {len(KS)} k:              {vote_minutes:8.1f} min")
    print(f"  total:                                      {train_minutes + vote_minutes:8.1f} min")


if __name__ == "__main__":
    main()
