"""The paper's explanatory figures: Δ against ρ (Figure 2) and the encodings of NULL (Figure 4)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import certificates
from .ablation import keep_masks
from .files import atomic_path


def _save(fig: plt.Figure, path: str | os.PathLike) -> None:
    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=150)
    plt.close(fig)


def plot_delta(
    ks: Sequence[int], path: str | os.PathLike, d: int = 784, max_rho: int = 100
) -> None:
    """Figure 2: the bounding constant Δ(ρ) of Theorem 1 against ρ, one line per k."""
    rhos = np.arange(max_rho + 1)
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    cmap = plt.get_cmap("viridis")
    for i, k in enumerate(sorted(ks)):
        color = cmap(i / max(len(ks) - 1, 1))
        ax.plot(rhos, certificates.delta(rhos, d, k), color=color, label=f"k = {k}")
    ax.set_xlabel("L0 distance ρ (pixels)")
    ax.set_ylabel("Δ")
    ax.set_xlim(0, max_rho)
    ax.set_ylim(0, 1)
    ax.set_title(f"Δ = 1 − C(d−ρ, k) / C(d, k), d = {d}", fontsize=10)
    ax.legend(fontsize=8, title="retained pixels")
    fig.tight_layout()
    _save(fig, path)


def null_encodings(
    image: torch.Tensor, k: int, mean: float, generator: torch.Generator
) -> dict[str, np.ndarray]:
    """Figure 4's panels for one grey image (1, H, W) in [0, 1], as RGB arrays (H, W, 3)."""
    _, h, w = image.shape
    keep = keep_masks(1, h * w, k, generator).view(h, w).numpy()
    grey = image[0].numpy()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    unique = rgb.copy()
    unique[~keep] = (0.85, 0.2, 0.2)  # a colour no MNIST pixel has
    as_mean = rgb.copy()
    as_mean[~keep] = mean
    noise = rgb.copy()
    noise[~keep] = np.repeat(
        torch.rand(int((~keep).sum()), generator=generator).numpy()[:, None], 3, axis=1
    )
    return {
        "(a) image": rgb,
        f"(b) k = {k} kept, NULL unique": unique,
        f"(c) NULL = mean ({mean:.2f})": as_mean,
        "(d) ablated pixels as noise": noise,
    }


def plot_null_encodings(panels: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Figure 4: an image and its ablations with NULL encoded three ways."""
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6))
    for ax, (title, rgb) in zip(axes, panels.items(), strict=True):
        ax.imshow(np.clip(rgb, 0, 1), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    _save(fig, path)
