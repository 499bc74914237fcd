"""Command line: certify a saved model's smoothed classifier on images of your own.

    randablate certify --model model.pt --images images.pt --labels labels.pt --out certificates.csv

Options: --n0 (1000), --n (10000), --alpha (0.05), --seed (0), --batch-size (1000), --precision
(fp32, bf16), --device (CUDA when present, else the CPU); --labels and --out may be left out.
`--images` is a .pt (torch.save of a tensor) or .npy file of shape (N, C, H, W), floating point in
[0, 1]; `--model` a file written by `randablate.models.save_model` (the pipeline's model.pt).
Each image gets its own random stream, seeded from `--seed` and its position (`image_seed`), so
a certificate does not depend on which other images are certified with it. Prints one line per
image and, with `--out`, writes the same rows as CSV. A bad input ends with one line
`randablate certify: error: ...` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .files import write_csv
from .names import PRECISIONS
from .seeding import derive_seed
from .smoothing import Smoothed, load_smoothed

PROG = "randablate certify"


class InputError(Exception):
    """A bad input of the command: its message names the file or option and what was expected."""


def image_seed(seed: int, index: int) -> int:
    """The seed of the random stream of the image at position `index` of --images."""
    return derive_seed(seed, "cli", index)


def _count(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 1, got {text}")
    return value


def _level(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text}")
    return value


def _device(text: str) -> torch.device:
    """An argparse type: a torch device that exists on this machine."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"unknown device {text!r}; expected cpu, cuda or cuda:<index>"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"unsupported device {text!r}; expected cpu or cuda")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError(f"device {text!r}: CUDA is not available here")
        if device.index is not None and device.index >= count:
            raise argparse.ArgumentTypeError(f"device {text!r}: only {count} CUDA device(s)")
    return device


def _load_array(path: str, option: str) -> torch.Tensor:
    """The tensor of a .pt or .npy file, or InputError naming the file and what was expected."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{option} {path}: no such file")
    if file.suffix not in (".pt", ".npy"):
        raise InputError(f"{option} {path}: expected a .pt or .npy file")
    try:
        if file.suffix == ".npy":
            return torch.from_numpy(np.load(file, allow_pickle=False))
        value = torch.load(file, map_location="cpu", weights_only=True)
    except (ValueError, RuntimeError, TypeError, OSError, EOFError, pickle.UnpicklingError):
        kind = "NumPy array of numbers (np.save)" if file.suffix == ".npy" else "torch.save file"
        raise InputError(f"{option} {path}: not a readable {kind}") from None
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{option} {path}: holds a {type(value).__name__}, expected a tensor")
    return value


def _load_model(args: argparse.Namespace) -> Smoothed:
    """The smoothed classifier of --model, or InputError naming the file."""
    if not Path(args.model).is_file():
        raise InputError(f"--model {args.model}: no such file")
    try:
        smoothed, _ = load_smoothed(
            args.model, None, args.batch_size, args.precision, device=args.device
        )
    except (
        ValueError,
        RuntimeError,
        KeyError,
        TypeError,
        EOFError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
    ) as exc:
        # load_model's ValueError says what the file holds; torch's own errors run to many lines
        if isinstance(exc, ValueError) and "\n" not in str(exc):
            raise InputError(f"--model {exc}") from None
        raise InputError(
            f"--model {args.model}: not a model file written by randablate.save_model "
            "(the pipeline's model.pt)"
        ) from None
    return smoothed


def _load_labels(path: str, count: int, num_classes: int) -> torch.Tensor:
    """The labels of --labels: `count` integers in 0..num_classes-1, or InputError."""
    labels = _load_array(path, "--labels")
    if tuple(labels.shape) != (count,):
        raise InputError(
            f"--labels {path}: has shape {tuple(labels.shape)}, expected ({count},), one label "
            "per image of --images"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InputError(f"--labels {path}: has dtype {labels.dtype}, expected integers")
    if count and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise InputError(
            f"--labels {path}: holds labels in [{int(labels.min())}, {int(labels.max())}], "
            f"expected classes 0..{num_classes - 1}"
        )
    return labels.long()


def certify_command(args: argparse.Namespace) -> int:
    """Certify every image of --images; print and optionally write one row per image."""
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise InputError(f"--out {args.out}: its directory does not exist")
    smoothed = _load_model(args)
    images = _load_array(args.images, "--images")
    try:
        smoothed.check_images(images)
    except (TypeError, ValueError) as exc:
        raise InputError(f"--images {args.images}: {exc}") from None
    if len(images) == 0:
        raise InputError(f"--images {args.images}: holds no image, expected at least one")
    d = images.shape[-2] * images.shape[-1]
    if smoothed.k > d:
        raise InputError(
            f"--images {args.images}: images of {d} pixels, fewer than the model's k = "
            f"{smoothed.k} ({args.model})"
        )
    labels = None
    if args.labels:
        labels = _load_labels(args.labels, len(images), smoothed.num_classes)
    seeds = [image_seed(args.seed, i) for i in range(len(images))]
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
    print(f"k = {smoothed.k} of d = {d} pixels, ", end="")
    print(f"n0 = {args.n0}, n = {args.n}, alpha = {args.alpha}; radius -1: not certified")
    print(table.to_string(index=False))
    if args.out:
        write_csv(table, args.out)
        print(f"wrote {args.out}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of the `randablate` command."""
    main_parser = argparse.ArgumentParser(prog="randablate", description=__doc__.splitlines()[0])
    commands = main_parser.add_subparsers(dest="command", required=True)
    certify = commands.add_parser("certify", help="certify images against L0 attacks")
    certify.add_argument("--model", required=True, help="model.pt written by save_model")
    certify.add_argument("--images", required=True, help=".pt or .npy, (N, C, H, W) in [0, 1]")
    certify.add_argument("--labels", help=".pt or .npy of N integer labels (optional)")
    certify.add_argument("--n0", type=_count, default=1000, help="selection samples (paper 1,000)")
    certify.add_argument("--n", type=_count, default=10000, help="bound samples (paper 10,000)")
    certify.add_argument("--alpha", type=_level, default=0.05, help="failure probability")
    certify.add_argument("--seed", type=int, default=0, help="base seed of the ablations")
    certify.add_argument("--batch-size", type=_count, default=1000, help="samples per pass")
    certify.add_argument("--precision", choices=PRECISIONS, default="fp32")
    certify.add_argument(
        "--device", type=_device, default=None, help="default: CUDA when present, else CPU"
    )
    certify.add_argument("--out", help="write the rows to this CSV file")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `randablate` command; a bad input: one error line, exit status 2."""
    args = parser().parse_args(argv)  # a bad option: usage, one error line, SystemExit(2)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return certify_command(args)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
