"""Vote-counting throughput of the colour models: samples per second and cost of Tables 3 and 6.

    python benchmarks/colour_throughput.py [--samples 256] [--repeats 2]

Counts votes of the CIFAR-10 ResNet18 (32 x 32, k = 75) and the ImageNet ResNet50 (224 x 224,
k = 1000) over random ablations with `Smoothed.counts`, in fp32 and bf16 (and on CUDA when
present), and extrapolates the paper's certification cost: n0 + n + n_predict = 21,000 samples
per image, 10,000 CIFAR-10 test images per k (6 values of k) and 400 ImageNet images per k (3).
The weights are random: a forward pass costs the same whatever they are.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from randablate.encoding import dataset_encoding
from randablate.models import build_model
from randablate.seeding import generator
from randablate.smoothing import Smoothed

SAMPLES_PER_IMAGE = 1000 + 10000 + 10000
CASES = {
    # name: (dataset, arch, image size, k, classes, images per k, values of k)
    "CIFAR-10 ResNet18": ("cifar10", "resnet18", 32, 75, 10, 10_000, 6),
    "ImageNet ResNet50": ("imagenet", "imagenet_resnet50", 224, 1000, 1000, 400, 3),
}


def samples_per_second(smoothed: Smoothed, x: torch.Tensor, n: int, repeats: int) -> float:
    """Median ablated samples per second of `smoothed.counts` on one image."""
    smoothed.counts(x, min(n, smoothed.batch_size), range(len(x)))  # warm-up
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        smoothed.counts(x, n, range(r + 1, r + 1 + len(x)))
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def main() -> None:
    """Print samples/s and the extrapolated hours per table, per model, device and precision."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256, help="samples timed per call")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{'model':20} {'device':6} {'precision':9} {'samples/s':>10} {'hours/table':>12}")
    for name, (dataset, arch, size, k, classes, images, ks) in CASES.items():
        encoding = dataset_encoding("multichannel", dataset)
        torch.manual_seed(0)
        base = build_model(arch, encoding.out_channels, classes)
        x = torch.rand(1, 3, size, size, generator=generator(0))
        for device in devices:
            for precision in ("fp32", "bf16"):
                smoothed = Smoothed(base, k, encoding, classes, args.batch_size, precision, device)
                rate = samples_per_second(smoothed, x, args.samples, args.repeats)
                hours = SAMPLES_PER_IMAGE * images * ks / rate / 3600
                print(f"{name:20} {device:6} {precision:9} {rate:10.1f} {hours:12.1f}")


if __name__ == "__main__":
    main()
