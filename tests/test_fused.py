import copy

import pytest
import torch
from conftest import holds_unless_planted
from torch import nn

from randablate import fused, smoothing
from randablate.encoding import get_encoding
from randablate.fused import LINEAR_WIDTH, CellCNN, cell_order, fuse_for_cpu
from randablate.models import build_model
from randablate.smoothing import Smoothed

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")


def sparse_inputs(num: int, channels: int, h: int, w: int) -> torch.Tensor:
    """Ablated-looking inputs: about 45 of 784 pixels set, the rest zero (NULL)."""
    x = (torch.rand(num, channels, h, w) < 45 / 784).float()
    return x * torch.rand(num, channels, h, w)


@pytest.mark.parametrize(
    ("channels", "size", "bias"), [(2, 28, True), (6, 32, False), (2, 12, True), (2, 30, True)]
)
def test_cell_convolutions_compute_the_two_strided_convolutions(channels, size, bias):
    # In fp32 the cells' rearranged weights give the convolutions as written, up to the order of
    # the sums: 28 x 28 (MNIST), 32 x 32 (CIFAR-10), a 12 x 12 image of 3 x 3 cells, and 30 x
    # 30, which 4x4 cells do not tile (it runs the convolutions as written).
    torch.manual_seed(0)
    first = nn.Conv2d(channels, 16, 4, stride=2, padding=1, bias=bias)
    second = nn.Conv2d(16, 24, 4, stride=2, padding=1)
    plain = nn.Sequential(first, nn.ReLU(), second, nn.ReLU()).eval()
    cells = fused._CellConvs(first, second)
    x = sparse_inputs(5, channels, size, size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected, ours = plain(x), cells(x)
    assert ours.shape == expected.shape
    assert float((ours - expected).abs().max()) <= 1e-5 * float(expected.abs().max())


@pytest.mark.parametrize("size", [(8, 12), (28, 28)])
def test_cell_order_puts_each_pixel_at_its_cells_row_column_and_channel(size):
    # Pixel rows written at cell_order, viewed as cells (B, H/4, W/4, 16 C), hold pixel
    # (4P + u, 4Q + v) of channel c at cell (P, Q), channel (4u + v) C + c: checked pixel by pixel.
    h, w = size
    image = torch.arange(2 * h * w).view(2, h, w)  # (C, H, W), each value its own index
    rows = torch.empty(h * w, 2, dtype=image.dtype)
    rows[cell_order(h, w)] = image.permute(1, 2, 0).reshape(h * w, 2)
    cells = rows.view(h // 4, w // 4, 16 * 2)
    for p in range(h // 4):
        for q in range(w // 4):
            for u in range(4):
                for v in range(4):
                    for c in range(2):
                        assert cells[p, q, (4 * u + v) * 2 + c] == image[c, 4 * p + u, 4 * q + v]
    assert sorted(cell_order(h, w).tolist()) == list(range(h * w))


def test_fused_cnn_in_fp32_is_the_cnn_with_zero_padded_hidden_layers():
    # The fused layers in fp32: the CNN's logits up to the order of the sums. The hidden
    # Linears run LINEAR_WIDTH-padded widths (500 -> 512, 100 -> 128) with zero weights.
    torch.manual_seed(0)
    model = build_model("cnn", 2, 10).eval()
    plain = copy.deepcopy(model).to(memory_format=torch.channels_last)
    ours = fuse_for_cpu(plain, 128)
    assert isinstance(ours, CellCNN)
    widths = [tuple(layer.weight.shape) for layer in ours if isinstance(layer, fused._FusedLinear)]
    assert widths == [(512, 6272), (128, 512), (10, 128)]
    assert all(width % LINEAR_WIDTH == 0 for width, _ in widths[:-1])
    x = sparse_inputs(64, 2, 28, 28).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected, logits = model(x), ours(x)
    assert float((logits - expected).abs().max()) <= 1e-5 * float(expected.abs().max())


def check_fused_cnn(planted, monkeypatch) -> None:
    """The fused CNN's bf16 logits are the fp32 CNN's within bf16 rounding, as the plain CNN's."""
    if planted:  # the Flatten forgets the channels-last order the next Linear's weight expects
        monkeypatch.setattr(fused._FlattenChannelsLast, "forward", lambda self, x: x.flatten(1))
    torch.manual_seed(0)
    model = build_model("cnn", 2, 10).eval()
    plain = copy.deepcopy(model).to(torch.bfloat16).to(memory_format=torch.channels_last)
    for cells in (True, False):
        ours_model = fuse_for_cpu(plain, 128, cells=cells)
        first = ["_CellConvs"] if cells else ["_FusedConv"] * 2
        names = first + ["_FlattenChannelsLast"] + ["_FusedLinear"] * 3
        assert [type(layer).__name__ for layer in ours_model] == names
        x = (torch.rand(300, 2, 28, 28) < 45 / 784).float()  # ablated inputs: mostly NULL
        x[:, 1] *= torch.rand(300, 28, 28)
        x16 = x.bfloat16().contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            exact, ours, theirs = model(x), ours_model(x16).float(), plain(x16).float()
        scale = float(exact.abs().max())
        assert float((theirs - exact).abs().max()) <= 0.02 * scale  # bf16 rounding: the yardstick
        assert float((ours - exact).abs().max()) <= 0.02 * scale
        assert float((ours - theirs).abs().max()) <= 0.02 * scale
        with torch.inference_mode():  # a copy (its packed weights packed anew) computes the same
            assert torch.equal(copy.deepcopy(ours_model)(x16).float(), ours)


@pytest.mark.parametrize("planted", [None, "flatten in (C, H, W) order"])
def test_fused_cnn_computes_the_cnn_within_bf16_rounding(planted, monkeypatch):
    holds_unless_planted(planted, check_fused_cnn, planted, monkeypatch)


def test_fuse_for_cpu_declines_models_it_cannot_run_as_fused_layers():
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    reflect = torch.nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect")
    linear = torch.nn.Linear(4 * 28 * 28, 10)
    assert fuse_for_cpu(build_model("resnet18", 6, 10)) is None  # not a Sequential
    assert fuse_for_cpu(nn.Sequential(conv, nn.MaxPool2d(2), nn.Flatten(), linear)) is None
    assert fuse_for_cpu(nn.Sequential(reflect, nn.ReLU(), nn.Flatten(), linear)) is None
    assert fuse_for_cpu(nn.Sequential(nn.Flatten(), nn.Linear(2 * 28 * 28, 10))) is None
    assert fuse_for_cpu(nn.Sequential(conv, nn.Flatten(), nn.ReLU(), linear)) is None
    assert type(fuse_for_cpu(nn.Sequential(conv, nn.ReLU(), nn.Flatten(), linear))) is nn.Sequential


def check_cell_votes(planted, monkeypatch) -> None:
    """Samples written in cell order give the logits of the same samples written as images.

    Bit for bit, in the same passes of `forward_batch` samples (oneDNN's sums can depend on the
    rows of a call).
    """
    if planted:  # the samples' pixels written row-major, not in the cells' order
        monkeypatch.setattr(smoothing, "cell_order", lambda h, w: torch.arange(h * w))
    monkeypatch.setattr(smoothing, "fused_inference_helps", lambda: True)
    torch.manual_seed(0)
    encoding = get_encoding("multichannel", 1)
    smoothed = Smoothed(build_model("cnn", 2, 10), 45, encoding, 10, 600, "bf16", "cpu")
    assert isinstance(smoothed.model, CellCNN)
    coded = smoothed._coded(torch.rand(3, 1, 28, 28))
    image = torch.arange(600) % 3
    kept = torch.stack([torch.randperm(784)[:45] for _ in range(600)])
    with torch.inference_mode():
        logits = smoothed._forward_kept(coded, image, kept)
        expected = smoothed._forward(encoding.ablate_kept(coded, image, kept))
    assert torch.equal(logits, expected)


@pytest.mark.parametrize("planted", [None, "pixels in row-major order"])
def test_smoothed_writes_samples_in_the_cell_order_the_model_reads(planted, monkeypatch):
    holds_unless_planted(planted, check_cell_votes, planted, monkeypatch)
