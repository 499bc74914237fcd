"""A base classifier with known votes, saved as a model file that the CLI and `load_smoothed` load.

The paper's MNIST CNN (Table 9) with hand-set weights: it sums the values of the kept pixels,
I, and votes for the class nearest to 4.5 + (I - k/2)/2 (clipped to 0..9). Its votes depend on
which pixels are kept and on the image (`varied_images`: smooth images vote nearly unanimously,
noisy ones spread their votes over several classes), so that a seed, grouping or padding error
changes the counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from randablate.encoding import get_encoding
from randablate.models import build_model, save_model


def vote(image: np.ndarray, keep: np.ndarray, k: int) -> int:
    """The class the model votes for, computed without torch: `image` and `keep` of shape (H, W)."""
    kept = float(np.sum(image.astype(np.float64) * keep))
    return int(np.clip(np.rint(4.5 + (kept - k / 2) / 2), 0, 9))


def kept_intensity_cnn(k: int) -> torch.nn.Sequential:
    """The MNIST CNN whose logits put the class 4.5 + (I - k/2)/2 on top (I: sum of kept pixels)."""
    model = build_model("cnn", 2, 10)
    conv1, conv2, linear1, linear2, linear3 = (model[i] for i in (0, 2, 5, 7, 9))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        # Kernel 4, stride 2, padding 1: taps [1:3, 1:3] see one 2x2 block each, tiling the input.
        conv1.weight[0, 0, 1:3, 1:3] = 1.0  # channel 0 of the multichannel code: s where kept
        conv2.weight[0, 0, 1:3, 1:3] = 1.0
        linear1.weight[0, :49] = 0.5  # the 7 x 7 sums of conv2's channel 0: I / 2
        linear1.bias[0] = 4.5 - k / 4
        linear2.weight[0, 0] = 1.0
        classes = torch.arange(10, dtype=torch.float32)
        linear3.weight[:, 0] = classes  # logit c = c h - c^2 / 2: largest for the c nearest h
        linear3.bias[:] = -(classes**2) / 2
    return model.eval()


def save_kept_intensity_model(path: str | Path, k: int = 45) -> Path:
    """Write the hand-set CNN as a `save_model` file for MNIST-shaped images at `k`."""
    meta = {"arch": "cnn", "in_channels": 2, "num_classes": 10, "k": k}
    meta.update(get_encoding("multichannel", 1).describe())
    save_model(path, kept_intensity_cnn(k), meta)
    return Path(path)


def varied_images(count: int, seed: int = 0) -> torch.Tensor:
    """`count` MNIST-shaped images from dark to bright, alternately smooth and noisy.

    The brightness moves the vote from class 0 to class 9; a smooth image gives near-unanimous
    votes (certified), a noisy one spreads them over several classes (often not).
    """
    gen = torch.Generator().manual_seed(seed)
    levels = torch.linspace(0.3, 0.7, count).view(count, 1, 1, 1)
    widths = torch.tensor([0.25, 1.0]).repeat(count)[:count].view(count, 1, 1, 1)
    noise = torch.rand(count, 1, 28, 28, generator=gen) - 0.5
    return (levels + widths * noise).clamp(0, 1)
