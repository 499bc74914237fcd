"""What the quick profile's L0 comparison adds, measured against randomized ablation in one run.

    python benchmarks/fpa_quick_cost.py --data-dir /root/mnist

Times, in one process and one after the other (so that a shared machine slows both alike; with
`--repeats` alternating which goes first, the fastest of each counting): one
feature-partition submodel trained at the quick profile's settings (2 epochs of AdamW on 8,000
images, bf16), a randomized-ablation model (k = 45) trained on the same images and epochs, the
ensemble's votes and randomized ablation's votes at Lee et al.'s quick sampling (n0 + n = 2,100)
on a few images. It prints each time and the ratios that turn the quick profile's own costs into
the comparison's: FPA training is (sum of T) submodels, Lee's votes 300 images.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fpa_submodel import train_submodel

from randablate.data import load_mnist
from randablate.encoding import get_encoding
from randablate.models import build_model
from randablate.partition import group_masks, submodel_predictions
from randablate.smoothing import Smoothed
from randablate.training import TrainSettings, train

QUICK = {
    "epochs": 2,
    "batch_size": 128,
    "optimizer": "adamw",
    "lr": 1e-3,
    "lr_schedule": "cosine",
    "weight_decay": 1e-3,
    "precision": "bf16",
    "checkpoint_every": 2,
    "max_train_images": 8000,
}


def _train_fpa(images, labels, encoding, mask, quick, path) -> float:
    return train_submodel(images, labels, encoding, mask, quick, 0, path)[1]


def _train_ra(images, labels, encoding, quick, path) -> float:
    torch.manual_seed(0)
    model = build_model("cnn", encoding.out_channels, 10)
    settings = TrainSettings(
        epochs=quick["epochs"],
        optimizer="adam",
        lr_schedule=[[1, 1e-3]],
        precision="bf16",
        max_train_images=quick["max_train_images"],
        checkpoint_every=quick["epochs"],
    )
    started = time.perf_counter()
    train(model, encoding, 45, images, labels, settings, path, "cpu")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vote-images", type=int, default=10)
    parser.add_argument("--images", type=int, default=QUICK["max_train_images"])
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="train each this many times, alternating which goes first; the fastest counts",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quick = {**QUICK, "max_train_images": args.images}
    images, labels = load_mnist(args.data_dir, "train")
    test_x, _ = load_mnist(args.data_dir, "test")
    encoding = get_encoding("multichannel", 1)
    masks = group_masks(28, 28, 10)
    fpa_times, ra_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            runs = [
                lambda r=repeat: fpa_times.append(
                    _train_fpa(images, labels, encoding, masks[0], quick, Path(tmp) / f"f{r}.pt")
                ),
                lambda r=repeat: ra_times.append(
                    _train_ra(images, labels, encoding, quick, Path(tmp) / f"r{r}.pt")
                ),
            ]
            for run in runs if repeat % 2 == 0 else runs[::-1]:
                run()
    fpa_train, ra_train = min(fpa_times), min(ra_times)
    torch.manual_seed(0)
    sub = build_model("cnn", encoding.out_channels, 10).eval()
    ra = build_model("cnn", encoding.out_channels, 10).eval()
    x = test_x[:300]
    started = time.perf_counter()
    submodel_predictions([sub] * 10, encoding, masks, x, 1000, "bf16")
    fpa_votes = (time.perf_counter() - started) / len(x)
    smoothed = Smoothed(ra, 45, encoding, 10, batch_size=1000, precision="bf16", device="cpu")
    few = test_x[: args.vote_images]
    started = time.perf_counter()
    for i in range(len(few)):
        smoothed.certify(few[i : i + 1], n0=100, n=2000, alpha=0.001, seeds=[i])
    lee_votes = (time.perf_counter() - started) / len(few)
    print(f"FPA submodel trainings (s): {[round(t, 1) for t in fpa_times]}")
    print(
        f"RA model k = 45 trainings, same images and epochs (s): {[round(t, 1) for t in ra_times]}"
    )
    print(f"ratio of the fastest, FPA submodel / RA model: {fpa_train / ra_train:.3f}")
    print(f"FPA votes, T = 10: {fpa_votes * 1e3:.2f} ms an image")
    print(f"RA votes, n0 + n = 2,100 (Lee quick): {lee_votes:.3f} s an image")
    print(f"ratio Lee-quick votes / FPA T = 10 votes: {lee_votes / fpa_votes:.0f}")


if __name__ == "__main__":
    main()
