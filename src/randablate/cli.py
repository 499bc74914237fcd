"""Command line: certify a saved model's smoothed classifier on images of your own.

    randablate certify --model model.pt --images images.pt [--labels labels.pt] \
        [--n0 1000] [--n 10000] [--alpha 0.05] [--seed 0] [--out certificates.csv]

`--images` is a .pt (torch.save of a tensor) or .npy file of shape (N, C, H, W), floating point in
[0, 1]; `--model` a file written by `randablate.models.save_model` (the pipeline's model.pt).
Each image gets its own random stream, seeded from `--seed` and its position, so a certificate
does not depend on which other images are certified with it. Prints one line per image and,
with `--out`, writes the same rows as CSV.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .seeding import derive_seed
from .smoothing import load_smoothed


def _load_array(path: str) -> torch.Tensor:
    """A tensor from a .pt or .npy file, or SystemExit naming the file and what was expected."""
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"error: no such file: {path}")
    if file.suffix == ".npy":
        return torch.from_numpy(np.load(file))
    if file.suffix == ".pt":
        value = torch.load(file, map_location="cpu", weights_only=True)
        if not isinstance(value, torch.Tensor):
            raise SystemExit(f"error: {path} holds a {type(value).__name__}, expected a tensor")
        return value
    raise SystemExit(f"error: {path}: expected a .pt or .npy file")


def certify_command(args: argparse.Namespace) -> int:
    """Certify every image of --images; print and optionally write one row per image."""
    smoothed, _ = load_smoothed(
        args.model, None, args.batch_size, args.precision, device=args.device
    )
    images = _load_array(args.images)
    labels = _load_array(args.labels).long() if args.labels else None
    if labels is not None and labels.shape != (len(images),):
        raise SystemExit(
            f"error: {args.labels} has shape {tuple(labels.shape)}, expected ({len(images)},)"
        )
    try:
        smoothed.check_images(images)
    except ValueError as exc:
        raise SystemExit(f"error: {args.images}: {exc}") from exc
    seeds = [derive_seed(args.seed, "cli", i) for i in range(len(images))]
    cert = smoothed.certify(images, args.n0, args.n, args.alpha, seeds)
    table = pd.DataFrame(
        {
            "index": np.arange(len(images)),
            "guess": cert.guess,
            "p_lower": cert.p_lower,
            "radius": cert.radius,
        }
    )
    if labels is not None:
        table["label"] = labels.numpy()
        table["certified_correct"] = (table["guess"] == table["label"]) & (table["radius"] >= 0)
    print(f"k = {smoothed.k} of d = {images.shape[-2] * images.shape[-1]} pixels, ", end="")
    print(f"n0 = {args.n0}, n = {args.n}, alpha = {args.alpha}; radius -1: not certified")
    print(table.to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `randablate` command."""
    parser = argparse.ArgumentParser(prog="randablate", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    certify = commands.add_parser("certify", help="certify images against L0 attacks")
    certify.add_argument("--model", required=True, help="model.pt written by save_model")
    certify.add_argument("--images", required=True, help=".pt or .npy, (N, C, H, W) in [0, 1]")
    certify.add_argument("--labels", help=".pt or .npy of N integer labels (optional)")
    certify.add_argument("--n0", type=int, default=1000, help="selection samples (paper 1,000)")
    certify.add_argument("--n", type=int, default=10000, help="bound samples (paper 10,000)")
    certify.add_argument("--alpha", type=float, default=0.05, help="failure probability")
    certify.add_argument("--seed", type=int, default=0, help="base seed of the ablations")
    certify.add_argument("--batch-size", type=int, default=1000, help="samples per forward pass")
    certify.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    certify.add_argument("--device", default=None, help="default: CUDA when present, else CPU")
    certify.add_argument("--out", help="write the rows to this CSV file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    return certify_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
