"""Per-query cost of the Pointwise attack on the unprotected CNN (k = d = 784), and its overhead.

    python benchmarks/pointwise_overhead.py [--images 4] [--starts 10] [--phase2 both]
        [--save FILE] [--check FILE] [--profile FILE] [--model PATH] [--tmp DIR]

At k = d the smoothed classifier is the plain CNN: one query is one forward pass of one image.
Attacks the first --images MNIST test images at the paper's attack settings (config/config.yaml's
`attack` section: 10 starts, Foolbox 2 starting points, Foolbox 3.3.4's PointwiseAttack, a cap
of 100,000 queries a start) with Foolbox's second phase (`l2_binary_search`) on and/or off, and
prints, per setting, seconds per image, queries per image, milliseconds per query, the share of
the time spent in the CNN's forward pass, and the time projected for Table 2's 275 images.

Times are CPU times of this process (the forward pass by hooks on the model), steadier than wall
times on a shared machine; wall times are printed too.

The CNN is --model (a model saved by the pipeline, k = 784) or else one trained here for
--train-epochs epochs of Adam on --data-dir and kept as a checkpoint under --tmp (a second run
loads it). --save writes every image's attack results (statuses, L0s, queries, images, vote
counts, each start's L0 and image) to an .npz; --check compares them, exactly, with such a file
and fails on any difference (an overhead change must not change a result). --profile runs the
attack under cProfile, prints the functions that take the most time and writes the stats.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from attack_throughput import get_model, paper_settings

from randablate.attack import ImageResult, SmoothedOracle, attack_image
from randablate.data import load_mnist
from randablate.encoding import get_encoding
from randablate.smoothing import Smoothed

TABLE2_IMAGES = 275
# What an image's result holds beyond its identity and timing (compared between runs).
FIELDS = tuple(
    f.name
    for f in dataclasses.fields(ImageResult)
    if f.name not in ("index", "label", "seconds", "starts")
)


class ForwardTimer:
    """CPU seconds spent inside a module's forward passes, and their number (hooks on it)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._started = 0.0
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, *_: object) -> None:
        self._started = time.process_time()

    def _post(self, *_: object) -> None:
        self.seconds += time.process_time() - self._started
        self.calls += 1


class OracleTimer:
    """CPU seconds spent in `SmoothedOracle` calls (the attack's queries), by wrapping the class."""

    def __init__(self) -> None:
        self.seconds = 0.0
        call = SmoothedOracle.__call__

        def timed(oracle: SmoothedOracle, inputs: object) -> object:
            started = time.process_time()
            try:
                return call(oracle, inputs)
            finally:
                self.seconds += time.process_time() - started

        SmoothedOracle.__call__ = timed


def result_arrays(prefix: str, result: ImageResult) -> dict[str, np.ndarray]:
    """An image's attack results as named arrays (each start's L0, queries and image too)."""
    out = {}
    for name in FIELDS:
        value = getattr(result, name)
        out[f"{prefix}/{name}"] = np.asarray(
            value.numpy() if isinstance(value, torch.Tensor) else value
        )
    for start in result.starts:
        out[f"{prefix}/start{start.start}/image"] = start.image.numpy()
        out[f"{prefix}/start{start.start}/found"] = np.asarray(start.found)
        out[f"{prefix}/start{start.start}/samples"] = np.asarray(start.samples)
    return out


def compare(saved: dict[str, np.ndarray], now: dict[str, np.ndarray]) -> list[str]:
    """Names of the arrays that differ, over the images attacked now (a file may hold more)."""
    images = {name.rsplit("/", 1)[0].split("/start")[0] for name in now}
    saved = {k: v for k, v in saved.items() if k.rsplit("/", 1)[0].split("/start")[0] in images}
    differ = sorted(set(saved) ^ set(now))
    for name in sorted(set(saved) & set(now)):
        a, b = saved[name], now[name]
        same = a.shape == b.shape and a.dtype == b.dtype
        if same:
            same = np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        if not same:
            differ.append(name)
    return differ


def run(smoothed: Smoothed, timers: tuple, images, labels, settings, seed: int) -> dict:
    """Attack the images with `settings`; per-image results and the timing totals."""
    arrays, seconds, cpu, queries = {}, 0.0, 0.0, 0
    timer, oracle_timer = timers
    forward_before, calls_before, oracle_before = timer.seconds, timer.calls, oracle_timer.seconds
    tag = "on" if settings.l2_binary_search else "off"
    for index in range(len(images)):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = attack_image(
            smoothed, images[index : index + 1], int(labels[index]), index, settings, seed
        )
        took, cpu_took = time.perf_counter() - started, time.process_time() - cpu_started
        seconds += took
        cpu += cpu_took
        queries += result.queries
        arrays.update(result_arrays(f"phase2_{tag}/{index}", result))
        print(
            f"  phase 2 {tag}, image {index}: {result.status}, L0 {result.l0:g}, "
            f"{result.queries} queries, {took:.1f} s ({cpu_took:.1f} s CPU), "
            f"{1000 * cpu_took / result.queries:.3f} ms CPU/query",
            flush=True,
        )
    forward = timer.seconds - forward_before
    return {
        "arrays": arrays,
        "seconds": seconds,
        "cpu": cpu,
        "queries": queries,
        "forward": forward,
        "forward_calls": timer.calls - calls_before,
        "oracle": oracle_timer.seconds - oracle_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="trained k = 784 model (else one is trained briefly)")
    parser.add_argument("--data-dir", default="/root/mnist", help="MNIST IDX files")
    parser.add_argument("--images", type=int, default=4, help="first test images attacked")
    parser.add_argument(
        "--starts", type=int, help="starts per image (default: config/config.yaml's)"
    )
    parser.add_argument("--phase2", choices=("on", "off", "both"), default="both")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--train-epochs", type=int, default=1, help="epochs of a brief model")
    parser.add_argument("--tmp", default="/tmp/attack_throughput", help="brief models' files")
    parser.add_argument("--save", help="write the per-image results to this .npz")
    parser.add_argument("--check", help="fail unless the results equal this .npz's")
    parser.add_argument("--profile", help="run under cProfile; write the stats here")
    parser.add_argument("--top", type=int, default=30, help="functions the profile prints")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    images, labels = load_mnist(args.data_dir, "test")
    images, labels = images[: args.images], labels[: args.images]
    train_set = None if args.model else load_mnist(args.data_dir, "train")
    model, source = get_model(args.model, 784, train_set, args.train_epochs, "cpu", tmp)
    smoothed = Smoothed(model, 784, get_encoding("multichannel", 1), 10, 10_000, args.precision)
    timers = ForwardTimer(smoothed.model), OracleTimer()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); k = 784 CNN: {source}")
    phases = {"on": (True,), "off": (False,), "both": (True, False)}[args.phase2]
    changes = {} if args.starts is None else {"starts": args.starts}
    profiler = cProfile.Profile() if args.profile else None
    arrays = {}
    for phase2 in phases:
        settings = paper_settings(l2_binary_search=phase2, **changes)
        print(f"settings: {settings}", flush=True)
        if profiler is not None:
            profiler.enable()
        out = run(smoothed, timers, images, labels, settings, args.seed)
        if profiler is not None:
            profiler.disable()
        arrays.update(out["arrays"])
        count = len(images)
        per_image, cpu_image = out["seconds"] / count, out["cpu"] / count
        queries = max(out["queries"], 1)
        forward_ms = 1000 * out["forward"] / max(out["forward_calls"], 1)
        print(
            f"phase 2 {'on ' if phase2 else 'off'}: {count} images x {settings.starts} starts, "
            f"{out['queries'] / count:.0f} queries/image; CPU time {cpu_image:.2f} s/image, "
            f"{1000 * out['cpu'] / queries:.3f} ms/query, of which the forward pass "
            f"{forward_ms:.3f} ms x {out['forward_calls']} = "
            f"{100 * out['forward'] / out['cpu']:.0f}%, the rest of the oracle's call "
            f"{1000 * (out['oracle'] - out['forward']) / queries:.3f} ms, outside the oracle "
            f"(Foolbox, starting points) {1000 * (out['cpu'] - out['oracle']) / queries:.3f} ms; "
            f"wall time {per_image:.2f} s/image, {1000 * out['seconds'] / queries:.3f} ms/query; "
            f"{TABLE2_IMAGES} images: about {TABLE2_IMAGES * cpu_image / 3600:.2f} h of CPU time"
            f"{' (under cProfile)' if profiler is not None else ''}",
            flush=True,
        )
    if args.save:
        np.savez_compressed(args.save, **arrays)
        print(f"saved {len(arrays)} arrays to {args.save}")
    if args.check:
        with np.load(args.check) as saved:
            differ = compare(dict(saved), arrays)
        if differ:
            raise SystemExit(f"results differ from {args.check}: {differ[:20]}")
        print(f"results identical to {args.check} ({len(arrays)} arrays)")
    if profiler is not None:
        profiler.dump_stats(args.profile)
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
