"""The paper's explanatory figures: ablated samples (Figure 1), Δ against ρ (Figure 2) and the
encodings of NULL (Figure 4)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch

from . import certificates
from .ablation import keep_masks
from .figures import line_colours
from .files import atomic_path

ABLATED_GREEN = (0.2, 0.8, 0.2)  # Figure 1's colour of the pixels the base classifier does not see


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
    for color, k in zip(line_colours(len(ks)), sorted(ks), strict=True):
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


def ablated_samples(
    image: torch.Tensor,
    base: torch.nn.Module,
    encoding: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    k: int,
    samples: int,
    generator: torch.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Figure 1's draws: `samples` random k-pixel ablations of one image and their base labels."""
    if image.dim() != 3:
        raise ValueError(f"expected one image (C, H, W), got shape {tuple(image.shape)}")
    for name, tensor in [*base.named_parameters(), *base.named_buffers()]:
        if tensor.device.type != "cpu" or (
            tensor.is_floating_point() and tensor.dtype != torch.float32
        ):
            raise ValueError(f"the base classifier must be fp32 on the CPU; {name} is not")
    _, h, w = image.shape
    keep = keep_masks(samples, h * w, k, generator).cpu()
    x = image.detach().to("cpu", torch.float32).unsqueeze(0).expand(samples, -1, -1, -1)
    was_training = base.training
    base.eval()
    try:
        with torch.no_grad():
            logits = base(encoding(x, keep))
    finally:
        base.train(was_training)
    labels = logits.argmax(dim=1).numpy().astype(np.int64)
    return keep.view(samples, h, w).numpy(), labels


def _rgb(image: torch.Tensor) -> np.ndarray:
    """An image (C, H, W) in [0, 1] with 1 or 3 channels as an RGB array (H, W, 3)."""
    pixels = image.detach().cpu().float().clamp(0, 1).numpy()
    if pixels.shape[0] == 1:
        return np.repeat(pixels[0][..., None], 3, axis=2)
    if pixels.shape[0] == 3:
        return pixels.transpose(1, 2, 0).copy()
    raise ValueError(f"can only draw images of 1 or 3 channels, got {pixels.shape[0]}")


def plot_ablated_samples(
    image: torch.Tensor,
    label: int,
    rows: Mapping[int, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike,
    accuracy: Mapping[int, float] | None = None,
) -> None:
    """Figure 1: the image at the top, then per k its ablated samples (green = not used)."""
    if not rows:
        raise ValueError("need the ablated samples of at least one k")
    rgb = _rgb(image)
    columns = max(len(labels) for _, labels in rows.values())
    fig = plt.figure(figsize=(1.5 * columns + 0.4, 1.9 * (len(rows) + 1)), layout="constrained")
    top, *subfigs = fig.subfigures(len(rows) + 1, 1)
    ax = top.subplots()
    ax.imshow(rgb, interpolation="nearest", vmin=0, vmax=1)
    ax.set_title(f"image to classify (label {label})", fontsize=9)
    ax.axis("off")
    for subfig, k in zip(subfigs, sorted(rows), strict=True):
        masks, labels = rows[k]
        title = f"k = {k}"
        if accuracy is not None and k in accuracy:
            title += f" (smoothed classifier accuracy {accuracy[k]:.1f}%)"
        subfig.suptitle(title, fontsize=9)
        axes = np.atleast_1d(subfig.subplots(1, columns))
        for i, ax in enumerate(axes):
            ax.axis("off")
            if i >= len(labels):
                continue
            panel = rgb.copy()
            panel[~masks[i]] = ABLATED_GREEN
            ax.imshow(panel, interpolation="nearest", vmin=0, vmax=1)
            ax.set_title(f"base label {int(labels[i])}", fontsize=8)
    if any((~masks).any() for masks, _ in rows.values()):
        unseen = "ablated (NULL): not seen by the base classifier"
        ablated = Patch(color=ABLATED_GREEN, label=unseen)
        top.legend(handles=[ablated], loc="lower center", fontsize=8, frameon=False)
    _save(fig, path)
