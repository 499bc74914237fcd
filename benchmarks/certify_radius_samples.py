"""Samples per image to decide ρ = 4 on MNIST: staged `certify_radius` against one-shot `certify`.

    python benchmarks/certify_radius_samples.py [--model results/models/.../k45/model.pt]
        [--images 100] [--radius 4] [--stages 100 1000 10000] [--n0 1000] [--epochs 2]

`Smoothed.certify` spends n0 + n = 1,000 + 10,000 = 11,000 samples on every image.
`Smoothed.certify_radius` chooses the class with the same n0 and then tests ρ in stages of fresh
samples (each at alpha / stages), stopping at the first decisive stage. Both run on the first
`--images` MNIST test images (RANDABLATE_DATA/mnist, else data/mnist) with per-image seeds. The
rows: mean samples per image, the share of images certified at ρ, and that share among correctly
classified ones (certified accuracy at ρ, counting only certified images). With --model, a
k = 45 model saved by the pipeline; without it, a multichannel CNN is trained here for --epochs
epochs of Adam (lr 1e-3, bf16) on the first --train-images training images (a brief model, far
from the paper's 400 epochs: its votes are less confident, so more images need later stages).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import torch

from randablate.data import load_mnist
from randablate.encoding import get_encoding
from randablate.models import build_model, save_model
from randablate.seeding import derive_seed
from randablate.smoothing import Smoothed, load_smoothed
from randablate.training import TrainSettings, train

K, ALPHA = 45, 0.05


def brief_model(directory: str, epochs: int, train_images: int) -> torch.nn.Module:
    """A k = 45 multichannel CNN trained briefly on MNIST with Adam."""
    images, labels = load_mnist(directory, "train")
    encoding = get_encoding("multichannel", 1)
    torch.manual_seed(0)
    model = build_model("cnn", encoding.out_channels, 10)
    settings = TrainSettings(
        epochs=epochs,
        optimizer="adam",
        lr_schedule=[[1, 1e-3]],
        precision="bf16",
        max_train_images=train_images,
    )
    with tempfile.TemporaryDirectory() as tmp:
        train(model, encoding, K, images, labels, settings, os.path.join(tmp, "ckpt.pt"))
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a k = 45 model.pt saved by the pipeline")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--radius", type=int, default=4)
    parser.add_argument("--n0", type=int, default=1000)
    parser.add_argument("--n", type=int, default=10_000, help="certify's bound samples")
    parser.add_argument("--stages", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--save-model", help="where to save the briefly trained model")
    parser.add_argument("--save-votes", help="where to save certify's counts as a votes .npz")
    args = parser.parse_args()
    directory = os.path.join(os.environ.get("RANDABLATE_DATA", "data"), "mnist")
    if args.model:
        smoothed, _ = load_smoothed(args.model, K, args.batch_size, args.precision)
        source = args.model
    else:
        model = brief_model(directory, args.epochs, args.train_images)
        smoothed = Smoothed(
            model, K, get_encoding("multichannel", 1), 10, args.batch_size, args.precision
        )
        source = f"trained here: {args.epochs} epochs of Adam on {args.train_images} images"
        if args.save_model:
            meta = {"arch": "cnn", "in_channels": 2, "num_classes": 10, "k": K}
            save_model(args.save_model, model, {**meta, "encoding": "multichannel", "channels": 1})
    images, labels = load_mnist(directory, "test")
    x, y = images[: args.images], labels[: args.images].numpy()

    def gens(stage: str) -> list[int]:
        return [derive_seed(0, stage, i) for i in range(len(x))]

    cert = smoothed.certify(x, args.n0, args.n, ALPHA, gens("one-shot"))
    if args.save_votes:  # the layout of the pipeline's votes.npz, without a predict stage
        np.savez(
            args.save_votes,
            index=np.arange(len(x)),
            label=y,
            k=np.int64(K),
            d=np.int64(28 * 28),
            counts_select=cert.counts_select,
            counts_bound=cert.counts_bound,
        )
    one_shot = cert.radius >= args.radius
    staged, guess, used = smoothed.certify_radius(
        x, args.radius, ALPHA, args.n0, args.stages, gens("staged")
    )
    print(f"model: {source}; {len(x)} MNIST test images")
    print(f"k = {K}, rho = {args.radius}, alpha = {ALPHA}, n0 = {args.n0}")
    print(f"stages {args.stages} at alpha/{len(args.stages)} each; {smoothed.precision}")
    print("procedure        samples/image  certified  certified and correct")
    print(
        f"certify          {args.n0 + args.n:13,d}  {one_shot.mean():9.1%}"
        f"  {(one_shot & (cert.guess == y)).mean():21.1%}"
    )
    print(
        f"certify_radius   {used.mean():13,.0f}  {staged.mean():9.1%}"
        f"  {(staged & (guess == y)).mean():21.1%}"
    )
    stops = {int(v): int(c) for v, c in zip(*np.unique(used, return_counts=True), strict=True)}
    print(f"images per samples used: {stops}")
    saving = 1 - used.mean() / (args.n0 + args.n)
    print(f"same decision on {(one_shot == staged).mean():.1%} of images; saving {saving:.1%}")


if __name__ == "__main__":
    main()
