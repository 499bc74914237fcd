"""The MNIST CNN's CPU inference form for bf16 votes on a CPU with AMX (`fuse_for_cpu`).

Each layer runs with its ReLU in one oneDNN call, and the linear layers' weights are packed once.
The two strided convolutions run on cells of 4x4 pixels (`CellCNN`): as a 2x2 convolution that
writes each 2x2 block of the first convolution's outputs as the channels of one cell, and a 2x2
stride-1 convolution over those cells. oneDNN runs these shapes at the hardware's pace, and the
4x4 stride-2 convolutions of the model as written at about half of it (a 2-channel input and a
strided kernel). Same function, sums in another order: bf16 logits move by rounding only.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

CELL = 4  # pixels a side of a cell: the two stride-2 convolutions together stride 4
# A hidden Linear's outputs are padded with zeros to a multiple of this: oneDNN's bf16 kernels
# run 512 outputs in less time than the MNIST CNN's 500 (0.8 times, for the 6272 x 500 layer).
LINEAR_WIDTH = 32


def fused_inference_helps() -> bool:
    """Whether `fuse_for_cpu` models are the faster bf16 path here: oneDNN on a CPU with AMX."""
    try:
        onednn = torch.backends.mkldnn.is_available() and torch._C._get_mkldnn_enabled()
        return bool(onednn and torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes
        return False


class _FusedConv(nn.Module):
    """A convolution as one oneDNN call, with a ReLU after it (`relu`) applied in that call."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        relu: bool,
        padding: list[int],
        stride: list[int],
        dilation: list[int] | None = None,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach(), False)
        self.padding, self.stride = list(padding), list(stride)
        self.dilation, self.groups = list(dilation or [1, 1]), groups
        self.attr = "relu" if relu else "none"

    @classmethod
    def of(cls, conv: nn.Conv2d, relu: bool) -> _FusedConv:
        """The fused form of `conv` (zero padding), with its weights."""
        return cls(
            conv.weight, conv.bias, relu, conv.padding, conv.stride, conv.dilation, conv.groups
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups,
            self.attr, [], "",
        )  # fmt: skip


class _FusedLinear(nn.Module):
    """A Linear as one oneDNN call, with the ReLU after it (if any) applied in that call.

    The weight is also packed once into oneDNN's blocked layout for `batch` rows a call (any
    number of rows runs; that many is the fastest), so that no call reorders it again.
    """

    def __init__(
        self, weight: torch.Tensor, bias: torch.Tensor | None, relu: bool, batch: int | None
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().contiguous(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach(), requires_grad=False)
        self.relu, self.batch = relu, batch
        self.packed = torch.ops.mkldnn._reorder_linear_weight(self.weight, batch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attr = "relu" if self.relu else "none"
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, attr, [], "")

    def __deepcopy__(self, memo: dict) -> _FusedLinear:
        """A copy packed anew: a packed (opaque) tensor cannot be copied."""
        bias = copy.deepcopy(self.bias, memo)
        return _FusedLinear(copy.deepcopy(self.weight, memo), bias, self.relu, self.batch)


class _FlattenChannelsLast(nn.Module):
    """Flatten (B, C, H, W) in (H, W, C) order: a view of channels-last activations, no copy."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).reshape(len(x), -1)


def _strided_pair(first: nn.Module, second: nn.Module) -> bool:
    """Whether two layers are 4x4 stride-2 zero-padded (1) convolutions, one after the other."""
    return all(
        isinstance(conv, nn.Conv2d)
        and conv.kernel_size == (4, 4)
        and conv.stride == (2, 2)
        and conv.padding == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        for conv in (first, second)
    ) and (second.in_channels == first.out_channels)


class _CellConvs(nn.Module):
    """Two 4x4 stride-2 convolutions (padding 1), each with its ReLU, run on 4x4 cells.

    `forward_cells` takes images as cells (B, 16 C, H/4, W/4), a cell's channels in (row,
    column, channel) order. The first convolution becomes a 2x2 convolution (padding 1) whose
    output cell (I, J) holds, as its 4 x F channels in (row, column, channel) order, the first
    convolution's outputs (2I - 1 .. 2I, 2J - 1 .. 2J): the second convolution's zero-padded
    input cut into 2x2 blocks. The outputs that fall on that padding are set to zero. The
    second convolution is then a 2x2 stride-1 convolution over the blocks.
    """

    def __init__(self, first: nn.Conv2d, second: nn.Conv2d) -> None:
        super().__init__()
        w0, w1 = first.weight.detach(), second.weight.detach()
        f0, channels = w0.shape[:2]
        # cells[(di, dj, o), (u, v, c), kI, kJ] = w0[o, c, a, b] where input cell I - 1 + kI
        # row u is the first convolution's kernel row a = 4 kI + u - 2 di - 1 of output 2I+di-1
        cells = w0.new_zeros(2, 2, f0, CELL, CELL, channels, 2, 2)
        for di, dj, ki, kj, u, v in itertools.product(*[range(2)] * 4, *[range(CELL)] * 2):
            a, b = 4 * ki + u - 2 * di - 1, 4 * kj + v - 2 * dj - 1
            if 0 <= a < 4 and 0 <= b < 4:
                cells[di, dj, :, u, v, :, ki, kj] = w0[:, :, a, b]
        cells = cells.reshape(4 * f0, CELL * CELL * channels, 2, 2)
        bias = first.bias.detach() if first.bias is not None else w0.new_zeros(f0)
        layout = torch.channels_last
        self.first = _FusedConv(cells.contiguous(memory_format=layout), bias.repeat(4), True,
                                [1, 1], [1, 1])  # fmt: skip
        # blocks[o, (di, dj, c), A, B] = w1[o, c, 2A + di, 2B + dj]
        f1 = w1.shape[0]
        blocks = w1.reshape(f1, f0, 2, 2, 2, 2).permute(0, 3, 5, 1, 2, 4).reshape(f1, 4 * f0, 2, 2)
        self.second = _FusedConv(blocks.contiguous(memory_format=layout), second.bias, True,
                                 [0, 0], [1, 1])  # fmt: skip
        self.plain = nn.Sequential(_FusedConv.of(first, True), _FusedConv.of(second, True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The two convolutions of images x (B, C, H, W); as cells where H and W allow."""
        h, w = x.shape[-2:]
        if not cells_fit(h, w):
            return self.plain(x)
        return self.forward_cells(cell_rows(x), h, w)

    def forward_cells(self, pixels: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """The two convolutions of images given as pixel rows (B, H*W, C) in `cell_order`."""
        n = len(pixels)
        cells = pixels.view(n, h // CELL, w // CELL, -1).permute(0, 3, 1, 2)
        blocks = self.first(cells)
        grid = blocks.permute(0, 2, 3, 1).view(n, h // CELL + 1, w // CELL + 1, 2, 2, -1)
        grid[:, 0, :, 0].zero_()  # the second convolution's zero padding
        grid[:, -1, :, 1].zero_()
        grid[:, :, 0, :, 0].zero_()
        grid[:, :, -1, :, 1].zero_()
        return self.second(blocks)


def cells_fit(h: int, w: int) -> bool:
    """Whether images of h x w pixels can be given as 4x4 cells."""
    return h % CELL == 0 and w % CELL == 0


def cell_rows(x: torch.Tensor) -> torch.Tensor:
    """Images (B, C, H, W) as pixel rows (B, H*W, C) in `cell_order` (H, W multiples of 4)."""
    n, c, h, w = x.shape
    pixels = x.permute(0, 2, 3, 1).reshape(n, h // CELL, CELL, w // CELL, CELL, c)
    return pixels.transpose(2, 3).reshape(n, h * w, c)


def cell_order(h: int, w: int) -> torch.Tensor:
    """Where each pixel (row-major over H, W) sits among the pixel rows of 4x4 cells."""
    row, col = torch.arange(h).unsqueeze(1), torch.arange(w).unsqueeze(0)
    cell = (row // CELL) * (w // CELL) + col // CELL
    return (cell * CELL * CELL + (row % CELL) * CELL + col % CELL).reshape(-1)


class CellCNN(nn.Sequential):
    """A fused CNN whose first layer is `_CellConvs`: it also runs on images as 4x4 cells.

    `forward_cells` takes images as pixel rows in `cell_order`, which is how
    `smoothing.Smoothed` writes its ablated samples for it: no rearranging a batch.
    """

    def forward_cells(self, pixels: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """The logits of images given as pixel rows (B, H*W, C) in `cell_order(h, w)`."""
        x = self[0].forward_cells(pixels, h, w)
        for layer in list(self)[1:]:
            x = layer(x)
        return x


def fuse_for_cpu(
    model: nn.Module, batch: int | None = None, cells: bool = True
) -> nn.Module | None:
    """Model for CPU inference with each layer and its ReLU in one oneDNN call; None if unfit.

    Fits an `nn.Sequential` of Conv2d, Linear, ReLU and Flatten layers (the MNIST CNN). The
    layers take the model's weights, in its dtype and layout.
    - Two 4x4 stride-2 convolutions at its start run on cells (`CellCNN`), unless `cells` is
      off.
    - A Flatten after a convolution reads channels-last activations in place, and the next
      Linear takes its input columns in that (H, W, C) order.
    - A Linear followed by its ReLU and more Linears gets zero outputs up to a multiple of
      LINEAR_WIDTH, and the next one zero columns for them.
    `batch`: the samples a forward pass usually holds. Same function as `model`, with sums in
    another order: bf16 logits move by rounding, so only the bf16 path uses it
    (`smoothing._base_on`).
    """
    if not isinstance(model, nn.Sequential) or not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        return None
    layers, fused, channels, permute, padded = list(model), [], None, False, 0
    cells = cells and len(layers) >= 4 and _strided_pair(layers[0], layers[2])
    cells = cells and all(isinstance(layers[i], nn.ReLU) for i in (1, 3))
    if cells:
        fused.append(_CellConvs(layers[0], layers[2]))
        channels = layers[2].out_channels
        layers = layers[4:]
    for i, layer in enumerate(layers):
        relu = i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU)
        after_weights = i > 0 and isinstance(layers[i - 1], nn.Conv2d | nn.Linear)
        if isinstance(layer, nn.ReLU) and after_weights:
            continue  # fused into the layer before
        if isinstance(layer, nn.Conv2d) and layer.padding_mode == "zeros":
            if isinstance(layer.padding, str):
                return None
            fused.append(_FusedConv.of(layer, relu))
            channels = layer.out_channels
        elif isinstance(layer, nn.Flatten) and (layer.start_dim, layer.end_dim) == (1, -1):
            following = layers[i + 1] if i + 1 < len(layers) else None
            if channels is None or not isinstance(following, nn.Linear):
                return None
            fused.append(_FlattenChannelsLast())
            permute = True
        elif isinstance(layer, nn.Linear):
            weight = layer.weight
            if permute:  # columns from (C, H, W) order to (H, W, C)
                out, columns = weight.shape
                weight = weight.view(out, channels, columns // channels).transpose(1, 2)
                weight = weight.reshape(out, columns)
                permute = False
            weight = nn.functional.pad(weight, (0, padded))  # zero columns for zero inputs
            bias = layer.bias
            hidden = any(isinstance(later, nn.Linear) for later in layers[i + 1 :])
            padded = -len(weight) % LINEAR_WIDTH if hidden and relu else 0
            if padded:  # zero outputs up to a multiple of LINEAR_WIDTH; ReLU keeps them zero
                weight = nn.functional.pad(weight, (0, 0, 0, padded))
                bias = None if bias is None else nn.functional.pad(bias.detach(), (0, padded))
            fused.append(_FusedLinear(weight, bias, relu, batch))
        else:
            return None
    return (CellCNN if cells else nn.Sequential)(*fused).eval()
