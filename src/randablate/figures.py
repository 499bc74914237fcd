"""Plots of the paper's quantities: certified accuracy against the L0 radius ρ."""

from __future__ import annotations

import os
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from randablate import certificates
from randablate.files import atomic_path


def certified_accuracy_curves(
    robustness_by_k: Mapping[int, np.ndarray], max_rho: int | None = None
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Return ρ = 0..max_rho and, per k, the certified accuracy (fraction) at each ρ."""
    if max_rho is None:
        finite = [r[np.isfinite(r)] for r in robustness_by_k.values()]
        max_rho = int(max((f.max() for f in finite if f.size), default=0)) + 1
    rhos = np.arange(max_rho + 1)
    curves = {int(k): certificates.certified_accuracy(r, rhos) for k, r in robustness_by_k.items()}
    return rhos, curves


def line_colours(count: int) -> list[tuple[float, float, float, float]]:
    """`count` colours that stand out on white: viridis without its pale yellow end."""
    cmap = plt.get_cmap("viridis")
    return [cmap(0.82 * i / max(count - 1, 1)) for i in range(count)]


def plot_certified_accuracy(
    robustness_by_k: Mapping[int, np.ndarray],
    path: str | os.PathLike,
    title: str,
    max_rho: int | None = None,
    paper_medians: Mapping[int, float] | None = None,
) -> None:
    """Draw certified accuracy against ρ, one line per k, and save it as an image at `path`.

    `paper_medians` (k -> the paper's median certificate) are marked on the 50% line, where a
    curve crosses it at its own median.
    """
    rhos, curves = certified_accuracy_curves(robustness_by_k, max_rho)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ks = sorted(curves)
    for color, k in zip(line_colours(len(ks)), ks, strict=True):
        ax.step(rhos, 100.0 * curves[k], where="post", color=color, label=f"k = {k}")
        paper = (paper_medians or {}).get(k)
        if paper is not None and np.isfinite(paper):
            ax.plot([paper], [50.0], marker="v", color=color, markersize=7, linestyle="none")
    ax.axhline(50.0, color="grey", linewidth=0.8, linestyle=":")
    ax.annotate(
        "50%: the median certificate is where a curve leaves this line",
        (rhos[-1], 50.0),
        xytext=(-4, 3),
        textcoords="offset points",
        ha="right",
        fontsize=7,
        color="dimgrey",
    )
    if paper_medians:
        ax.plot([], [], marker="v", color="grey", linestyle="none", label="paper's median")
    ax.set_xlabel("L0 radius ρ (pixels)")
    ax.set_ylabel("certified accuracy (%)")
    ax.set_xlim(0, rhos[-1])
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncol=2 if len(ks) > 6 else 1, title="retained pixels")
    fig.tight_layout()
    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=150)
    plt.close(fig)
