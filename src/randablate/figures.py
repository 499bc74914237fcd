"""Every figure of the pipeline, drawn from arrays and tables and saved by one helper.

Certified accuracy against ρ (Figures 6-9 of the appendix, and ours per data set), Δ against ρ
(Figure 2), ablated samples (Figure 1), the encodings of NULL (Figure 4), the certificates
compared, and adversarial examples (Figures 3 and 5). The data behind Figures 1 and 4 are drawn
by `illustrations` (with torch); this module needs none.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from randablate import certificates
from randablate.comparison import CERTIFICATES
from randablate.files import atomic_path

ABLATED_GREEN = (0.2, 0.8, 0.2)  # Figure 1's colour of the pixels the base classifier does not see
LABELS = {
    "corollary1": "Corollary 1 (paper)",
    "corollary2": "Corollary 2 (Bonferroni over classes)",
    "top2": "label in top-2",
    "top3": "label in top-3",
}


def save_figure(fig: plt.Figure, path: str | os.PathLike) -> None:
    """Save `fig` atomically in the format its suffix names (png when none), then close it."""
    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=150)
    plt.close(fig)


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
    save_figure(fig, path)


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
    save_figure(fig, path)


def plot_null_encodings(panels: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Figure 4: an image and its ablations with NULL encoded three ways."""
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6))
    for ax, (title, rgb) in zip(axes, panels.items(), strict=True):
        ax.imshow(np.clip(rgb, 0, 1), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)


def _rgb(image: np.ndarray) -> np.ndarray:
    """An image (C, H, W) in [0, 1] with 1 or 3 channels as an RGB array (H, W, 3)."""
    pixels = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
    if pixels.shape[0] == 1:
        return np.repeat(pixels[0][..., None], 3, axis=2)
    if pixels.shape[0] == 3:
        return pixels.transpose(1, 2, 0).copy()
    raise ValueError(f"can only draw images of 1 or 3 channels, got {pixels.shape[0]}")


def ablated_samples_figure(
    image: np.ndarray,
    label: int,
    rows: Mapping[int, tuple[np.ndarray, np.ndarray]],
    accuracy: Mapping[int, float] | None = None,
) -> plt.Figure:
    """Figure 1, unsaved: the image at the top, then per k its ablated samples (green = not used).

    The legend sits below every image, in a strip of its own, so that no text covers an image.
    """
    if not rows:
        raise ValueError("need the ablated samples of at least one k")
    rgb = _rgb(image)
    columns = max(len(labels) for _, labels in rows.values())
    # at least 4.5 inches wide, so that the titles and the legend fit over a single column
    width = max(1.5 * columns + 0.4, 4.5)
    fig = plt.figure(figsize=(width, 1.9 * (len(rows) + 1) + 0.3), layout="constrained")
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
        fig.legend(handles=[ablated], loc="outside lower center", fontsize=8, frameon=False)
    return fig


def plot_ablated_samples(
    image: np.ndarray,
    label: int,
    rows: Mapping[int, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike,
    accuracy: Mapping[int, float] | None = None,
) -> None:
    """Figure 1 (`ablated_samples_figure`), saved to `path`."""
    save_figure(ablated_samples_figure(image, label, rows, accuracy), path)


def plot_compared(table: pd.DataFrame, path: str | os.PathLike, title: str) -> None:
    """Draw certified accuracy against ρ, one panel per k and one line per certificate."""
    ks: Sequence[int] = sorted(table["k"].unique())
    cols = min(len(ks), 3)
    rows = -(-len(ks) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False, sharey=True
    )
    styles = {"corollary1": "-", "corollary2": "--", "top2": "-.", "top3": ":"}
    for ax, k in zip(axes.flat, ks, strict=False):
        part = table[table["k"] == k]
        for name in CERTIFICATES:
            ax.step(
                part["rho"], part[name], where="post", linestyle=styles[name], label=LABELS[name]
            )
        ax.set_title(f"k = {k}", fontsize=10)
        ax.set_xlabel("L0 radius ρ (pixels)")
        reached = part.loc[(part[list(CERTIFICATES)] > 0).any(axis=1), "rho"]
        ax.set_xlim(0, int(reached.max()) + 1 if len(reached) else 1)
        ax.set_ylim(0, 100)
    for ax in axes[:, 0]:
        ax.set_ylabel("certified accuracy (%)")
    for ax in list(axes.flat)[len(ks) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def _label(prediction: int) -> str:
    return "abstain" if prediction == -1 else str(prediction)


def plot_adversarial_examples(
    attack: Mapping[str, np.ndarray],
    positions: np.ndarray,
    path: str | os.PathLike,
    title: str,
    columns: int = 8,
) -> None:
    """Draw clean images above their adversarial examples, with predictions and L0; save."""
    positions = np.asarray(positions, dtype=np.int64)
    count = max(len(positions), 1)
    columns = min(columns, count)
    grid_rows = -(-count // columns)
    fig, axes = plt.subplots(
        2 * grid_rows, columns, figsize=(1.5 * columns, 3.3 * grid_rows), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    if len(positions) == 0:
        axes[0, 0].text(0, 0.5, "no attack held up on a fresh query", fontsize=9)
    for slot, position in enumerate(positions):
        row, column = 2 * (slot // columns), slot % columns
        clean = np.asarray(attack["clean_image"][position])
        adv = np.asarray(attack["adv_image"][position])
        top, bottom = axes[row, column], axes[row + 1, column]
        top.imshow(clean.mean(axis=0), cmap="gray", vmin=0, vmax=1)
        top.set_title(
            f"#{int(attack['index'][position])} label {int(attack['label'][position])}\n"
            f"g: {_label(int(attack['clean_prediction'][position]))}",
            fontsize=7,
        )
        bottom.imshow(adv.mean(axis=0), cmap="gray", vmin=0, vmax=1)
        fresh = int(attack["adv_prediction"][position])
        held = fresh != int(attack["label"][position])
        l0 = float(np.asarray(attack.get("query_l0", attack["l0"]))[position])
        bottom.set_title(
            f"fresh g: {_label(fresh)}\nL0 = {l0:g}"
            + ("" if held else "\nnot adversarial on a fresh query"),
            fontsize=7,
            color="black" if held else "red",
        )
    fig.suptitle(textwrap.fill(title, width=max(30, 16 * columns)), fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def l0_compared_figure(
    curves: pd.DataFrame,
    labels: Mapping[str, str],
    title: str,
    quoted: Mapping[str, float] | None = None,
) -> plt.Figure:
    """Certified accuracy against ρ, one line per certificate (columns of `curves`), unsaved.

    Randomized ablation's certificates (methods ra_*, lee_*) are dashed, feature partition
    aggregation's (fpa_*) solid; `labels` maps each method to its legend text. `quoted` maps a
    legend text to a median a paper reports, drawn as a marker at (median, 50%): a curve that
    passes on or above it has at least that median. The legend has a panel of its own below.
    """
    methods = [c for c in curves.columns if c != "rho"]
    fig, (ax, legend_ax) = plt.subplots(
        2, 1, figsize=(7.5, 7.5), gridspec_kw={"height_ratios": [3, 1.3]}
    )
    fpa = [m for m in methods if m.startswith("fpa_")]
    other = [m for m in methods if m not in fpa]
    for colours, group, style in (
        (plt.get_cmap("tab10").colors, other, "--"),
        (line_colours(len(fpa)), fpa, "-"),
    ):
        for colour, method in zip(colours, group, strict=False):
            ax.step(
                curves["rho"],
                curves[method],
                where="post",
                linestyle=style,
                color=colour,
                label=labels.get(method, method),
            )
    markers = ("*", "X", "P", "D")
    for marker, (label, median) in zip(markers, (quoted or {}).items(), strict=False):
        ax.plot([median], [50], marker=marker, color="black", linestyle="none", label=label)
    reached = curves.loc[(curves[methods] > 0).any(axis=1), "rho"]
    right = max([int(reached.max()) + 1 if len(reached) else 1, *(quoted or {}).values()])
    ax.set_xlim(0, right + 1 if quoted else right)
    ax.set_ylim(0, 100)
    ax.set_xlabel("L0 radius ρ (pixels)")
    ax.set_ylabel("certified accuracy (%)")
    ax.set_title(title, fontsize=9)
    legend_ax.axis("off")
    legend_ax.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="center", frameon=False)
    fig.tight_layout()
    return fig


def plot_l0_compared(
    curves: pd.DataFrame,
    labels: Mapping[str, str],
    path: str | os.PathLike,
    title: str,
    quoted: Mapping[str, float] | None = None,
) -> None:
    """Save `l0_compared_figure` to `path`."""
    save_figure(l0_compared_figure(curves, labels, title, quoted), path)
