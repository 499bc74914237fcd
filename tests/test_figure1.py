"""Figure 1: random ablations of one image, labelled by a base classifier we control."""

from __future__ import annotations

import matplotlib.axes
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np
import pytest
import torch

from randablate.ablation import keep_masks_from_streams
from randablate.encoding import get_encoding
from randablate.figures import ABLATED_GREEN, ablated_samples_figure, plot_ablated_samples
from randablate.illustrations import ablated_samples

H = W = 6
D = H * W


class LinearProbe(torch.nn.Module):
    """Logits = a fixed random linear map of the coded input; records how it was called."""

    def __init__(self) -> None:
        super().__init__()
        weights = torch.randn(10, 2 * D, generator=torch.Generator().manual_seed(5))
        self.register_buffer("weights", weights)
        self.calls: list[dict] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(
            {
                "training": self.training,
                "grad": torch.is_grad_enabled(),
                "dtype": x.dtype,
                "device": x.device.type,
                "shape": tuple(x.shape),
            }
        )
        return x.flatten(1) @ self.weights.T


def expected_labels(image: torch.Tensor, masks: np.ndarray, weights: torch.Tensor) -> np.ndarray:
    """The probe's labels, computed without randablate: code (s, 1 - s), zero ablated pixels."""
    pixels = image[0].numpy().astype(np.float64)
    w = weights.numpy().astype(np.float64)
    labels = []
    for keep in masks:
        coded = np.stack([pixels * keep, (1 - pixels) * keep])
        labels.append(int(np.argmax(w @ coded.ravel())))
    return np.array(labels)


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(1, H, W, generator=torch.Generator().manual_seed(1))


def draw(image: torch.Tensor, base: torch.nn.Module, k: int, seed: int, samples: int = 40):
    encoding = get_encoding("multichannel", 1)
    return ablated_samples(image, base, encoding, k, samples, seed)


@pytest.mark.parametrize("k", [1, 5, 20, D])
def test_ablated_samples_keep_k_pixels_and_carry_the_base_label(image, k):
    base = LinearProbe()
    masks, labels = draw(image, base, k, seed=7)
    assert masks.shape == (40, H, W) and masks.dtype == np.bool_
    assert (masks.reshape(40, D).sum(axis=1) == k).all()
    # The keep-sets are samples 0 .. 39 of the stream of seed 7.
    seeds = torch.full((40,), 7, dtype=torch.int64)
    reference = keep_masks_from_streams(seeds, torch.arange(40), D, k).view(40, H, W).numpy()
    np.testing.assert_array_equal(masks, reference)
    assert labels.shape == (40,) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, expected_labels(image, masks, base.weights))
    if k < D:
        assert len(set(labels.tolist())) > 1  # the labels really depend on the keep-set
    else:
        assert len(set(labels.tolist())) == 1  # nothing ablated: one input, one label


def test_ablated_samples_run_the_base_in_eval_mode_without_grad_and_restore_it(image):
    base = LinearProbe().train()
    draw(image, base, 5, seed=0, samples=8)
    assert base.calls == [
        {
            "training": False,
            "grad": False,
            "dtype": torch.float32,
            "device": "cpu",
            "shape": (8, 2, H, W),
        }
    ]
    assert base.training  # left as it was found
    base.eval()
    draw(image, base, 5, seed=0, samples=8)
    assert not base.training


def test_ablated_samples_are_reproducible_for_a_seed(image):
    base = LinearProbe()
    first, second, other = (draw(image, base, 5, seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


def test_ablated_samples_refuse_a_base_that_is_not_fp32(image):
    base = LinearProbe().to(torch.bfloat16)
    with pytest.raises(ValueError, match="fp32 on the CPU"):
        draw(image, base, 5, seed=0)


def green_pixels(path) -> int:
    """How many pixels of a PNG have exactly the ablation green."""
    rgb = mpimg.imread(path)[..., :3]
    return int((np.abs(rgb - np.array(ABLATED_GREEN)) < 0.5 / 255).all(axis=2).sum())


def test_plot_ablated_samples_draws_ablated_pixels_green(image, tmp_path):
    base = LinearProbe()
    rows = {k: draw(image, base, k, seed=k, samples=4) for k in (3, 12)}
    path = tmp_path / "figure1.png"
    plot_ablated_samples(image, 7, rows, path, accuracy={3: 32.32, 12: 90.5})
    assert mpimg.imread(path).ndim == 3
    assert list(tmp_path.iterdir()) == [path]  # written atomically, no temporary left
    green = green_pixels(path)
    # 8 panels, 33 and 24 of 36 pixels ablated, each pixel drawn as a block of many screen pixels.
    assert green > 1000

    # With nothing ablated no pixel is green (a grey image has no pixel of that colour).
    whole = tmp_path / "whole.png"
    plot_ablated_samples(image, 7, {D: draw(image, base, D, seed=0, samples=4)}, whole)
    assert green_pixels(whole) == 0

    # More ablated pixels, more green: the green area follows the masks.
    sparse, dense = tmp_path / "sparse.png", tmp_path / "dense.png"
    plot_ablated_samples(image, 7, {3: rows[3]}, sparse)
    plot_ablated_samples(image, 7, {12: rows[12]}, dense)
    ratio = green_pixels(sparse) / green_pixels(dense)
    assert ratio == pytest.approx(33 / 24, rel=0.1)


def test_plot_ablated_samples_needs_a_row(image, tmp_path):
    with pytest.raises(ValueError, match="at least one k"):
        plot_ablated_samples(image, 7, {}, tmp_path / "figure1.png")


def overlaps(fig) -> list[tuple[str, str]]:
    """(text, image axes) pairs whose boxes overlap once drawn with Agg, and texts cut off."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    all_axes = fig.findobj(matplotlib.axes.Axes)
    # an axis turned off draws no tick labels, though its Text artists remain
    hidden = {
        id(t)
        for ax in all_axes
        if not ax.axison
        for axis in (ax.xaxis, ax.yaxis)
        for t in axis.findobj(matplotlib.text.Text)
    }
    texts = [
        t
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in hidden
    ]
    image_axes = [ax for ax in all_axes if ax.images]
    found = []
    for text in texts:
        box = text.get_window_extent(renderer)
        for ax in image_axes:
            if box.overlaps(ax.get_window_extent(renderer)):
                found.append((text.get_text(), ax.get_title() or "untitled"))
        if not fig.bbox.contains(box.x0, box.y0) or not fig.bbox.contains(box.x1, box.y1):
            found.append((text.get_text(), "outside the figure"))
    return found


@pytest.mark.parametrize(
    ("ks", "samples"), [((3, 12), 4), ((1, 3, 6, 12, 20), 4), ((12,), 1), ((3, D), 2)]
)
def test_no_text_of_figure1_overlaps_an_image(image, ks, samples):
    base = LinearProbe()
    rows = {k: draw(image, base, k, seed=k, samples=samples) for k in ks}
    fig = ablated_samples_figure(image, 7, rows, accuracy={k: 99.9 for k in ks})
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    assert "image to classify (label 7)" in texts
    assert any(text.startswith("ablated (NULL)") for text in texts)  # the legend is drawn
    assert overlaps(fig) == []
    # The control: the legend where it used to be, under the image to classify, is caught.
    legend = fig.legends[0]
    fig.subfigs[0].legend(handles=legend.legend_handles, labels=[legend.texts[0].get_text()],
                          loc="lower center", fontsize=8, frameon=False)  # fmt: skip
    assert ("ablated (NULL): not seen by the base classifier", "image to classify (label 7)") in (
        overlaps(fig)
    )
    plt.close(fig)
