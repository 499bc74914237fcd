"""Compare two per-image attack tables of one model, image by image (e.g. second phase on/off).

    python benchmarks/compare_attacks.py ON/attack.csv OFF/attack.csv [--names on off]

Prints for each run the median verified L0, queries an image, the images per status and where
the query cap bound, then how many images the first run's attack needed fewer, the same or more
pixels than the second's (paired by image index).
"""

from __future__ import annotations

import argparse

import pandas as pd

from randablate.attack_report import summarize_attack


def describe(table: pd.DataFrame) -> str:
    """One line: median verified L0, queries an image, statuses and budget-bound images."""
    row = summarize_attack(table)
    statuses = ", ".join(
        f"{row[s]} {s}" for s in ("broken", "clean_adversarial", "query_fooled", "unbroken")
    )
    return (
        f"median verified L0 {row['median_attack_magnitude_pixels']:g} pixels, "
        f"{row['queries_per_image']:,.0f} queries an image, {statuses}, "
        f"cap bound on {row['budget_bound']}"
    )


def main() -> None:
    """Print both runs and their paired comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--names", nargs=2, default=("first", "second"))
    args = parser.parse_args()
    first, second = (pd.read_csv(path) for path in (args.first, args.second))
    paired = first.merge(second, on="index", suffixes=("_1", "_2"), validate="one_to_one")
    print(f"{len(paired)} images in both runs")
    for name, table in zip(args.names, (first, second), strict=True):
        print(f"{name}: {describe(table[table['index'].isin(paired['index'])])}")
    a, b = paired["attack_l0_1"].to_numpy(), paired["attack_l0_2"].to_numpy()
    fewer, same, more = int((a < b).sum()), int((a == b).sum()), int((a > b).sum())
    extra = paired["queries_1"].sum() / paired["queries_2"].sum() - 1.0
    print(
        f"{args.names[0]} against {args.names[1]}: fewer pixels on {fewer} images, the same on "
        f"{same}, more on {more}; {100 * extra:+.0f}% queries"
    )


if __name__ == "__main__":
    main()
