"""Pointwise-attack throughput at the paper's settings: samples per query and seconds per image.

    python benchmarks/attack_throughput.py [--model PATH] [--train-epochs 1] [--images 1]
        [--starts 1] [--baseline-model PATH] [--baseline-images 0] [--device cpu|cuda]

Smoothed classifier (k = 45): attacks --images test images at the paper's attack settings
(config.yaml: n_query 10,000 in fp32, the authors' Foolbox 2 starting points, Foolbox's second
phase) with the early decision on (`decision: sequential`, delta from config.yaml) and prints
queries per image, samples per query, seconds per query and seconds per image (from --starts
starts; the paper runs 10, so the per-image time scales with 10 / --starts). With the decision
off (the paper's literal oracle, 10,000 samples every query) an attack takes hours on a CPU: it
times --full-queries such queries and EXTRAPOLATES seconds per image from the queries per image
measured with the decision on (the attack's path differs, its length about the same).
--max-queries caps each start (a capped start's samples per query still count). The
k = 45 model is --model when given (a model saved by the pipeline); else one is trained here
briefly (--train-epochs epochs of Adam on ablated images): the output says which. A weak model
is easier to break, which changes the queries per image, not the cost of one query.

Unprotected CNN (k = 784), --baseline-images > 0: attacks that many test images at the paper's
settings (10 starts) with Foolbox's second phase on and off, and prints the median verified L0
and the queries per image of each (Table 2's CNN row: 9 pixels for Schott et al.'s CNN). The
CNN is --baseline-model when given, else trained here (--train-epochs epochs of Adam).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from randablate.attack import AttackSettings, SmoothedOracle, attack_image
from randablate.data import load_mnist
from randablate.encoding import get_encoding
from randablate.models import build_model, load_model
from randablate.smoothing import Smoothed
from randablate.training import TrainSettings, train

REPO = Path(__file__).resolve().parent.parent


def paper_settings(**changes: object) -> AttackSettings:
    """The attack settings of config.yaml, with `changes`."""
    attack = yaml.safe_load((REPO / "config/config.yaml").read_text())["attack"]
    names = {f.name for f in dataclasses.fields(AttackSettings)}
    return AttackSettings(**{**{k: v for k, v in attack.items() if k in names}, **changes})


def brief_model(k: int, images, labels, epochs: int, out: Path, device: str):
    """A CNN trained for `epochs` epochs of Adam on images ablated to k pixels (brief)."""
    model = build_model("cnn", 2, 10)
    settings = TrainSettings(
        epochs=epochs, optimizer="adam", lr_schedule=[[1, 0.001]], precision="bf16"
    )
    history = train(
        model, get_encoding("multichannel", 1), k, images, labels, settings, out, device
    )["history"]
    return model.eval(), history[-1]["accuracy"]


def get_model(path: str | None, k: int, mnist, epochs: int, device: str, tmp: Path):
    """(model, description): the saved model at `path`, else a briefly trained one."""
    if path:
        model, meta = load_model(path)
        if int(meta["k"]) != k:
            raise SystemExit(f"{path} was trained with k = {meta['k']}, not {k}")
        return model, f"{path} (k = {k})"
    started = time.perf_counter()
    model, accuracy = brief_model(k, *mnist, epochs, tmp / f"k{k}.ckpt", device)
    return model, (
        f"trained here: {epochs} epoch(s) of Adam at k = {k}, train accuracy {accuracy:.3f}, "
        f"{time.perf_counter() - started:.0f} s (NOT the paper's 400 epochs of SGD)"
    )


def attack(smoothed: Smoothed, images, labels, count: int, settings: AttackSettings) -> dict:
    """Attack the first `count` test images the smoothed classifier gets right; totals."""
    results, position = [], 0
    started = time.perf_counter()
    while len(results) < count and position < len(images):
        result = attack_image(
            smoothed, images[position : position + 1], int(labels[position]), position, settings, 0
        )
        position += 1
        if result.status != "clean":
            results.append(result)
            print(
                f"  image {result.index}: {result.status}, L0 {result.l0:g}, {result.queries} "
                f"queries, {result.samples / max(result.queries, 1):.0f} samples/query, "
                f"{result.seconds:.0f} s",
                flush=True,
            )
    seconds = time.perf_counter() - started
    queries = sum(r.queries for r in results)
    return {
        "images": len(results),
        "seconds_per_image": seconds / max(len(results), 1),
        "queries_per_image": queries / max(len(results), 1),
        "samples_per_query": sum(r.samples for r in results) / max(queries, 1),
        "seconds_per_query": seconds / max(queries, 1),
        "median_l0": float(np.median([r.l0 for r in results])) if results else float("nan"),
        "budget_bound": sum(r.budget_bound for r in results),
        "statuses": {s: sum(r.status == s for r in results) for s in {r.status for r in results}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="trained k = 45 model (else one is trained briefly)")
    parser.add_argument("--data-dir", default="data/mnist", help="MNIST IDX files")
    parser.add_argument("--images", type=int, default=1, help="images attacked at k = 45")
    parser.add_argument("--starts", type=int, default=1, help="starts per image at k = 45")
    parser.add_argument(
        "--max-queries", type=int, help="k = 45: cap per start (default: config.yaml's)"
    )
    parser.add_argument("--full-queries", type=int, default=5, help="timed 10,000-sample queries")
    parser.add_argument("--train-epochs", type=int, default=1, help="epochs of a brief model")
    parser.add_argument("--baseline-model", help="trained k = 784 model (else trained briefly)")
    parser.add_argument("--baseline-images", type=int, default=0, help="CNN images, phase 2 on/off")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tmp", default="/tmp/attack_throughput", help="brief models' files")
    args = parser.parse_args()

    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    train_set = load_mnist(args.data_dir, "train")
    images, labels = load_mnist(args.data_dir, "test")
    encoding = get_encoding("multichannel", 1)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    base = paper_settings()
    print(f"paper settings (config.yaml): {base}")

    if args.images > 0:
        model, source = get_model(args.model, 45, train_set, args.train_epochs, args.device, tmp)
        print(f"k = 45 model: {source}")
        smoothed = Smoothed(model, 45, encoding, 10, 10_000, "fp32", args.device)
        cap = args.max_queries or base.max_queries
        settings = dataclasses.replace(
            base, starts=args.starts, decision="sequential", max_queries=cap
        )
        out = attack(smoothed, images, labels, args.images, settings)
        at_ten = out["seconds_per_image"] * 10 / args.starts
        print(
            f"k = 45, early decision ON  (measured, cap {cap} queries a start): "
            f"{out['images']} image(s) x {args.starts} "
            f"start(s): {out['queries_per_image']:.0f} queries/image, "
            f"{out['samples_per_query']:.0f} samples/query, "
            f"{out['seconds_per_query'] * 1000:.1f} ms/query, "
            f"{out['seconds_per_image']:.0f} s/image ({at_ten:.0f} s/image at 10 starts), "
            f"verified L0 median {out['median_l0']:g}, budget bound on {out['budget_bound']}, "
            f"{out['statuses']}"
        )
        # The literal oracle draws 10,000 samples every query: time such queries, and scale by
        # the same number of queries (the attack's path differs, its length about the same).
        oracle = SmoothedOracle(smoothed, base.n_query, 0, label=int(labels[0]))
        oracle(images[:1])
        times = []
        for _ in range(args.full_queries):
            started = time.perf_counter()
            oracle(images[:1])
            times.append(time.perf_counter() - started)
        per_query = statistics.median(times)
        full_image = per_query * out["queries_per_image"]
        print(
            f"k = 45, early decision OFF (EXTRAPOLATED: median of {args.full_queries} timed "
            f"{base.n_query}-sample queries x the queries/image above): {base.n_query} "
            f"samples/query, {per_query * 1000:.1f} ms/query, {full_image:.0f} s/image "
            f"({full_image * 10 / args.starts:.0f} s/image at 10 starts)"
        )

    if args.baseline_images > 0:
        model, source = get_model(
            args.baseline_model, 784, train_set, args.train_epochs, args.device, tmp
        )
        print(f"k = 784 (unprotected CNN): {source}")
        smoothed = Smoothed(model, 784, encoding, 10, 10_000, "fp32", args.device)
        for phase2 in (True, False):
            settings = dataclasses.replace(base, l2_binary_search=phase2)
            out = attack(smoothed, images, labels, args.baseline_images, settings)
            print(
                f"k = 784, second phase {'on ' if phase2 else 'off'}: {out['images']} images x "
                f"{settings.starts} starts: median verified L0 {out['median_l0']:g} pixels, "
                f"{out['queries_per_image']:.0f} queries/image, "
                f"{out['seconds_per_image']:.1f} s/image, budget bound on "
                f"{out['budget_bound']}, {out['statuses']}"
            )


if __name__ == "__main__":
    main()
