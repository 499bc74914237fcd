"""Pointwise-attack throughput: queries per second and seconds per attacked image.

    python benchmarks/attack_throughput.py [--model PATH] [--images 2] [--paper-queries 3]
        [--paper-images 0] [--device cpu|cuda]

One query classifies one image with n_query fresh ablations (quick profile: 100 samples in bf16;
paper: 10,000 in fp32). Queries per second are timed on the paper's MNIST CNN for both settings
(the paper setting from only --paper-queries queries on a slow device). Seconds per attacked image
are measured by attacking --images test images at the quick settings with a trained model (the
quick profile's k = 45 model by default; random weights when it is absent, which the attack
breaks in a few queries, so train it first for meaningful numbers). At the paper settings they
are EXTRAPOLATED, unless --paper-images > 0 attacks that many images for real: the measured
Pointwise queries per start (less its salt-and-pepper steps) plus the paper's starting-point
steps, times 10 starts, times the measured time per paper query. The attack at n = 10,000 follows
the vote noise less than at n = 100, so the number of queries per start differs; read the
extrapolation as an order of magnitude.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from randablate.attack import AttackSettings, SmoothedOracle, attack_image
from randablate.data import load_mnist
from randablate.encoding import get_encoding
from randablate.models import build_model, load_model
from randablate.seeding import generator
from randablate.smoothing import Smoothed

QUICK = {"n_query": 100, "precision": "bf16", "batch_size": 1000, "starts": 2, "init_steps": 20}
PAPER = {"n_query": 10000, "precision": "fp32", "batch_size": 10000, "starts": 10}
PAPER_INIT_STEPS, PAPER_IMAGES = 100, 275


def seconds_per_query(smoothed: Smoothed, x: torch.Tensor, n: int, queries: int) -> float:
    """Median seconds of one query (n fresh votes for one image), after one warm-up query."""
    oracle = SmoothedOracle(smoothed, n, generator(0, smoothed.device))
    oracle(x)
    times = []
    for _ in range(queries):
        start = time.perf_counter()
        oracle(x)
        if smoothed.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_model = "results/models/mnist/multichannel/cnn/k45/model.pt"
    parser.add_argument("--model", default=default_model, help="trained base classifier")
    parser.add_argument("--data-dir", default="data/mnist", help="MNIST IDX files")
    parser.add_argument("--images", type=int, default=2, help="images attacked at quick settings")
    parser.add_argument("--quick-queries", type=int, default=30, help="timed quick queries")
    parser.add_argument("--paper-queries", type=int, default=3, help="timed paper queries")
    parser.add_argument("--paper-images", type=int, default=0, help="images attacked for real")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    images, labels = load_mnist(args.data_dir, "test")
    if Path(args.model).is_file():
        model, meta = load_model(args.model)
        k, source = int(meta["k"]), args.model
    else:
        torch.manual_seed(0)
        model, k, source = build_model("cnn", 2, 10).eval(), 45, "random weights (no model file)"
    encoding = get_encoding("multichannel", 1)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    print(f"model: {source}, k = {k}")
    x = images[:1]
    per_query = {}
    for name, setting, queries in (
        ("quick", QUICK, args.quick_queries),
        ("paper", PAPER, args.paper_queries),
    ):
        smoothed = Smoothed(
            model, k, encoding, 10, setting["batch_size"], setting["precision"], args.device
        )
        per_query[name] = seconds_per_query(smoothed, x, setting["n_query"], queries)
        print(
            f"{name:6} n_query {setting['n_query']:6} {setting['precision']}: "
            f"{1 / per_query[name]:8.1f} queries/s, {1000 * per_query[name]:8.1f} ms/query "
            f"(median of {queries} queries)"
        )

    def attack(setting: dict, init_steps: int, count: int) -> tuple[float, float, float]:
        smoothed = Smoothed(
            model, k, encoding, 10, setting["batch_size"], setting["precision"], args.device
        )
        settings = AttackSettings(
            n_query=setting["n_query"], starts=setting["starts"], init_steps=init_steps
        )
        started = time.perf_counter()
        results = [
            attack_image(smoothed, images[i : i + 1], int(labels[i]), i, settings, seed=0)
            for i in range(count)
        ]
        seconds = (time.perf_counter() - started) / count
        queries = sum(r.queries for r in results) / count
        starts = [q for r in results for q in r.start_queries if q > 0]
        pointwise = statistics.mean(starts) - (init_steps + 2) if starts else 0.0
        return seconds, queries, max(pointwise, 0.0)

    seconds, queries, pointwise = attack(QUICK, QUICK["init_steps"], args.images)
    print(
        f"quick  attack (measured, {args.images} images, {QUICK['starts']} starts): "
        f"{seconds:.1f} s/image, {queries:.0f} queries/image, "
        f"about {pointwise:.0f} Pointwise queries per start"
    )
    per_start = pointwise + PAPER_INIT_STEPS + 2
    estimate = PAPER["starts"] * per_start * per_query["paper"]
    print(
        f"paper  attack (EXTRAPOLATED: {PAPER['starts']} starts x ({pointwise:.0f} Pointwise "
        f"+ {PAPER_INIT_STEPS + 2} starting-point queries) x {1000 * per_query['paper']:.1f} "
        f"ms/query): {estimate:.0f} s/image, {estimate * PAPER_IMAGES / 3600:.1f} h for "
        f"{PAPER_IMAGES} images on one device"
    )
    if args.paper_images > 0:
        seconds, queries, _ = attack(PAPER, PAPER_INIT_STEPS, args.paper_images)
        print(
            f"paper  attack (measured, {args.paper_images} images, {PAPER['starts']} starts): "
            f"{seconds:.1f} s/image, {queries:.0f} queries/image"
        )


if __name__ == "__main__":
    main()
