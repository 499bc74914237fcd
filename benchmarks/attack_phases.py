"""One start of the Pointwise attack at the paper's settings, traced loop by loop.

    python benchmarks/attack_phases.py --model PATH [--data-dir data/mnist] [--image 0]
        [--precision bf16] [--max-queries N] [--threads 1]

Attacks test image --image of the smoothed classifier of --model (a model saved by the
pipeline, k = --k, 45 by default) from one start, with config/config.yaml's attack settings (10,000
samples a query, Foolbox 2 starting points, Foolbox's second phase, the early decision) and
prints a line when the second phase (`l2_binary_search`) begins each loop over the changed
pixels: seconds so far, queries so far, samples per query over the last loop, and the L0 of the
attack's working image. Each loop resets every changed pixel (one query) and binary-searches the
value of each one the reset does not keep adversarial (10 queries); Foolbox starts another loop
whenever one changed any value, which against a randomized classifier near its decision
boundary is almost always. This is where a start's queries go;
`benchmarks/attack_throughput.py` gives the totals.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from attack_throughput import paper_settings

from randablate import attack
from randablate.data import load_mnist
from randablate.seeding import derive_seed
from randablate.smoothing import load_smoothed

LOOP_MESSAGE = "Starting new loop through all values"  # Foolbox 3.3.4's PointwiseAttack


class LoopTrace(logging.Filter):
    """Prints a line at each of Foolbox's second-phase loops (a filter on its log records)."""

    def __init__(self, oracles: list) -> None:
        super().__init__()
        self.oracles = oracles
        self.started = time.perf_counter()
        self.last = (0, 0)  # queries and samples at the previous line

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != LOOP_MESSAGE or not self.oracles:
            return False
        # PointwiseAttack.run holds the working image in its local x_adv_flat (Foolbox 3.3.4).
        frame = sys._getframe()
        while frame is not None and "x_adv_flat" not in frame.f_locals:
            frame = frame.f_back
        l0 = "?"
        if frame is not None:
            changed = (frame.f_locals["x_adv_flat"] - frame.f_locals["x_flat"]).abs() > 1e-8
            l0 = int(changed.raw.sum())
        oracle = self.oracles[-1]
        queries, samples = oracle.queries - self.last[0], oracle.samples - self.last[1]
        self.last = (oracle.queries, oracle.samples)
        print(
            f"{time.perf_counter() - self.started:8.0f} s  second-phase loop starts: "
            f"{oracle.queries} queries so far, {samples / max(queries, 1):.0f} samples/query "
            f"since the last line, working image L0 {l0}",
            flush=True,
        )
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a model saved by the pipeline")
    parser.add_argument("--k", type=int, default=45, help="the model's k (784: the plain CNN)")
    parser.add_argument("--data-dir", default="data/mnist", help="MNIST IDX files")
    parser.add_argument("--image", type=int, default=0, help="test image index")
    parser.add_argument("--seed", type=int, default=0, help="the pipeline's seed")
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--max-queries", type=int, help="cap of the start (config/config.yaml's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    images, labels = load_mnist(args.data_dir, "test")
    smoothed, _ = load_smoothed(args.model, args.k, batch_size=10_000, precision=args.precision)
    settings = paper_settings(starts=1)
    if args.max_queries:
        settings = dataclasses.replace(settings, max_queries=args.max_queries)
    print(f"{args.model}, image {args.image}, {args.precision}, {args.threads} thread(s)")
    print(f"settings: {settings}")

    oracles: list = []
    init = attack.SmoothedOracle.__init__

    def remembered(oracle, *a, **k) -> None:
        init(oracle, *a, **k)
        oracles.append(oracle)

    attack.SmoothedOracle.__init__ = remembered
    handler = logging.StreamHandler()
    handler.addFilter(LoopTrace(oracles))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)

    x, label = images[args.image : args.image + 1], int(labels[args.image])
    seed = derive_seed(args.seed, "attack", args.image, 0)
    started = time.perf_counter()
    result = attack.attack_start(smoothed, x, label, settings, seed, 0)
    print(
        f"start done: found {result.found}, L0 {result.l0:g}, {result.queries} queries, "
        f"{result.samples / max(result.queries, 1):.0f} samples/query, "
        f"{time.perf_counter() - started:.0f} s, query cap bound: {result.budget_spent}"
    )


if __name__ == "__main__":
    main()
