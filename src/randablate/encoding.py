"""Encodings of the NULL symbol, for images with any number C of channels.

- multichannel: a pixel s in [0, 1]^C is coded as (s, 1 - s) over 2C channels and NULL as all
  zeros, equally far from every colour (the paper's choice). With `normalize` (ImageNet, the
  paper's footnote 1) each channel is first standardised, z = (s - mean) / std, and coded as
  (z, 1 - z); NULL stays all zeros, still distinct from every colour but no longer equidistant.
- mean: a pixel keeps its C channels and NULL is the per-channel training-set mean.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from .datasets import DATASETS
from .names import ENCODINGS  # re-exported: randablate.encoding.ENCODINGS

Normalize = tuple[Sequence[float], Sequence[float]]

IMAGENET_NORMALIZE: Normalize = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class Encoding:
    """Maps images in [0, 1] and keep masks to the base classifier's input."""

    name: str = ""

    def __init__(self, channels: int) -> None:
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = channels

    @property
    def out_channels(self) -> int:
        """Number of channels the base classifier sees."""
        raise NotImplementedError

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """Code whole images (N, C, H, W) with no pixel ablated."""
        raise NotImplementedError

    def null(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Return the NULL code as a vector of `out_channels` values."""
        raise NotImplementedError

    def ablate_coded(self, coded: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Replace by NULL every pixel of coded images (N, C', H, W) outside `keep` (N, H*W)."""
        n, _, h, w = coded.shape
        keep = keep.reshape(n, 1, h, w)
        null = self.null(coded.device, coded.dtype).view(1, -1, 1, 1)
        return torch.where(keep, coded, null)

    def null_images(
        self, num: int, h: int, w: int, device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        """`num` all-NULL images as pixel rows (num, H*W, C'), for `ablated_in` to write into."""
        return self.null(device, dtype).expand(num, h * w, -1).contiguous()

    def ablate_kept(
        self, coded: torch.Tensor, rows: torch.Tensor, kept: torch.Tensor
    ) -> torch.Tensor:
        """Samples (B, C', H, W), channels-last: coded[rows[b]] with only pixels kept[b] left.

        `coded` (N, C', H, W) are coded images, `rows` (B,) which image each sample ablates and
        `kept` (B, k) its kept pixel indices (row-major over H, W); every other pixel is NULL.
        The same values as `ablate_coded(coded[rows], mask)`, written without a mask: a NULL
        fill and k pixels copied a sample.
        """
        _, _, h, w = coded.shape
        out = self.null_images(len(rows), h, w, coded.device, coded.dtype)
        _write_kept(out, coded, rows, kept)
        return _as_images(out, h, w)

    @contextlib.contextmanager
    def ablated_in(
        self, null_images: torch.Tensor, coded: torch.Tensor, rows: torch.Tensor, kept: torch.Tensor
    ) -> Iterator[torch.Tensor]:
        """`ablate_kept`'s samples, written into `null_images` (B, H*W, C', all NULL) in place.

        No fill a batch: only the k kept pixels of each sample are written, and on leaving the
        block NULL is written back over them, so that the buffer (`null_images`) serves the
        next batch. The samples are a view of it, valid inside the block.
        """
        _, c, h, w = coded.shape
        written = _write_kept(null_images, coded, rows, kept)
        try:
            yield _as_images(null_images, h, w)
        finally:
            null = self.null(null_images.device, null_images.dtype)
            null_images.view(-1, c).index_copy_(0, written, null.expand(len(written), c))

    def __call__(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Code images (N, C, H, W) in [0, 1], keeping only the pixels in `keep` (N, H*W)."""
        if x.shape[1] != self.channels:
            raise ValueError(
                f"{self.name} encoding expects {self.channels} channels, got {x.shape[1]}"
            )
        return self.ablate_coded(self.code(x), keep)

    def describe(self) -> dict:
        """Return what is needed to rebuild this encoding with `get_encoding`."""
        return {"encoding": self.name, "channels": self.channels, "mean": None, "normalize": None}


class MultichannelEncoding(Encoding):
    """(s, 1 - s) per channel, optionally after per-channel standardisation; NULL = all zeros."""

    name = "multichannel"

    def __init__(self, channels: int, normalize: Normalize | None = None) -> None:
        super().__init__(channels)
        self.normalize: tuple[list[float], list[float]] | None = None
        if normalize is not None:
            if len(normalize) != 2:
                raise ValueError(f"normalize must be (mean, std), got {normalize!r}")
            mean, std = ([float(v) for v in part] for part in normalize)
            if len(mean) != channels or len(std) != channels:
                raise ValueError(
                    f"normalize needs one mean and one std per channel ({channels}), "
                    f"got {normalize!r}"
                )
            if not all(v > 0 for v in std):
                raise ValueError(f"normalize std must be positive, got {std}")
            self.normalize = (mean, std)

    @property
    def out_channels(self) -> int:
        """Twice the image channels."""
        return 2 * self.channels

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """Stack each (standardised, if `normalize` is set) image with one minus itself."""
        if self.normalize is not None:
            mean, std = (
                torch.tensor(v, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
                for v in self.normalize
            )
            x = (x - mean) / std
        return torch.cat([x, 1 - x], dim=1)

    def null(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """All zeros."""
        return torch.zeros(self.out_channels, device=device, dtype=dtype)

    def ablate_coded(self, coded: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Zero every ablated pixel."""
        n, _, h, w = coded.shape
        return coded * keep.reshape(n, 1, h, w).to(coded.dtype)

    def describe(self) -> dict:
        """Name, channels and the normalisation (None when unused)."""
        normalize = None
        if self.normalize is not None:
            normalize = [list(self.normalize[0]), list(self.normalize[1])]
        return {**super().describe(), "normalize": normalize}


class MeanEncoding(Encoding):
    """Pixel values as they are; NULL = the per-channel training-set mean."""

    name = "mean"

    def __init__(self, mean: Sequence[float]) -> None:
        super().__init__(len(mean))
        self.mean = [float(v) for v in mean]

    @property
    def out_channels(self) -> int:
        """The image channels."""
        return self.channels

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """The image itself."""
        return x

    def null(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The training-set mean of each channel."""
        return torch.tensor(self.mean, device=device, dtype=dtype)

    def describe(self) -> dict:
        """Name, channels and the mean."""
        return {**super().describe(), "mean": list(self.mean)}


def get_encoding(
    name: str,
    channels: int = 1,
    mean: Sequence[float] | None = None,
    normalize: Normalize | None = None,
) -> Encoding:
    """Build the encoding called `name` for images of `channels` channels."""
    if name == "multichannel":
        return MultichannelEncoding(channels, normalize)
    if normalize is not None:
        raise ValueError(f"normalize applies to the multichannel encoding only, not {name!r}")
    if name == "mean":
        if mean is None or len(mean) != channels:
            raise ValueError(
                f"the mean encoding needs one mean per channel ({channels}), got {mean!r}"
            )
        return MeanEncoding(mean)
    raise ValueError(f"unknown encoding {name!r}; expected one of {', '.join(ENCODINGS)}")


def channel_mean(images: torch.Tensor) -> list[float]:
    """Per-channel mean of training images (N, C, H, W), the mean encoding's NULL."""
    return images.double().mean(dim=(0, 2, 3)).tolist()


def dataset_encoding(name: str, dataset: str, mean: Sequence[float] | None = None) -> Encoding:
    """The paper's encoding `name` for a data set: ImageNet's multichannel one is normalised."""
    channels = DATASETS[dataset].channels
    if name == "multichannel":
        normalize = IMAGENET_NORMALIZE if dataset == "imagenet" else None
        return get_encoding(name, channels, normalize=normalize)
    if name == "mean" and mean is None and dataset == "imagenet":
        mean = IMAGENET_NORMALIZE[0]  # the usual ImageNet channel means, not recomputed
    return get_encoding(name, channels, mean=mean)


def _write_kept(
    out: torch.Tensor, coded: torch.Tensor, rows: torch.Tensor, kept: torch.Tensor
) -> torch.Tensor:
    """Copy pixels kept[b] of coded[rows[b]] into pixel rows out[b]; returns the rows written."""
    n, c, h, w = coded.shape
    pixels = coded.permute(0, 2, 3, 1).reshape(n * h * w, c)
    offsets = torch.arange(len(rows), device=kept.device).unsqueeze(1) * (h * w)
    written = (offsets + kept).reshape(-1)
    source = (rows.unsqueeze(1) * (h * w) + kept).reshape(-1)
    out.view(-1, c).index_copy_(0, written, pixels.index_select(0, source))
    return written


def _as_images(pixel_rows: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Pixel rows (B, H*W, C') as images (B, C', H, W) laid out channels-last (a view)."""
    return pixel_rows.view(len(pixel_rows), h, w, -1).permute(0, 3, 1, 2)
