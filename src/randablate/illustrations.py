"""The data behind the explanatory figures: ablated samples and their base labels (Figure 1) and
the encodings of NULL (Figure 4); `figures` draws them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .ablation import keep_masks_from_streams
from .seeding import derive_seed
from .streams import uniforms


def _keep_masks(samples: int, d: int, k: int, seed: int) -> torch.Tensor:
    """Samples 0 .. samples-1 of the keep-set stream `seed`, as a (samples, d) boolean mask."""
    seeds = torch.full((samples,), seed, dtype=torch.int64)
    return keep_masks_from_streams(seeds, torch.arange(samples), d, k)


def null_encodings(image: torch.Tensor, k: int, mean: float, seed: int) -> dict[str, np.ndarray]:
    """Figure 4's panels for one grey image (1, H, W) in [0, 1], as RGB arrays (H, W, 3).

    The keep-set is sample 0 of the stream `seed`; the noise comes from the stream
    `derive_seed(seed, "noise")`.
    """
    _, h, w = image.shape
    keep = _keep_masks(1, h * w, k, seed).view(h, w).numpy()
    grey = image[0].numpy()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    unique = rgb.copy()
    unique[~keep] = (0.85, 0.2, 0.2)  # a colour no MNIST pixel has
    as_mean = rgb.copy()
    as_mean[~keep] = mean
    noise = rgb.copy()
    values = uniforms(derive_seed(seed, "noise"), torch.arange(int((~keep).sum())))
    noise[~keep] = np.repeat(values.float().numpy()[:, None], 3, axis=1)
    return {
        "(a) image": rgb,
        f"(b) k = {k} kept, NULL unique": unique,
        f"(c) NULL = mean ({mean:.2f})": as_mean,
        "(d) ablated pixels as noise": noise,
    }


def ablated_samples(
    image: torch.Tensor,
    base: torch.nn.Module,
    encoding: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    k: int,
    samples: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Figure 1's draws: samples 0 .. samples-1 of the keep-set stream `seed` applied to one
    image, and the base labels of those ablations."""
    if image.dim() != 3:
        raise ValueError(f"expected one image (C, H, W), got shape {tuple(image.shape)}")
    for name, tensor in [*base.named_parameters(), *base.named_buffers()]:
        if tensor.device.type != "cpu" or (
            tensor.is_floating_point() and tensor.dtype != torch.float32
        ):
            raise ValueError(f"the base classifier must be fp32 on the CPU; {name} is not")
    _, h, w = image.shape
    keep = _keep_masks(samples, h * w, k, seed)
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
