import copy

import pytest
import torch
from conftest import holds_unless_planted

from randablate import models
from randablate.models import build_model, fuse_for_cpu, load_model, save_model


def test_mnist_cnn_has_the_papers_shapes():
    model = build_model("cnn", 2, 10)
    shapes = []
    x = torch.rand(3, 2, 28, 28)
    for layer in model:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes[0] == (64, 14, 14)
    assert shapes[2] == (128, 7, 7)
    assert shapes[4] == (6272,)
    assert shapes[5] == (500,)
    assert shapes[7] == (100,)
    assert shapes[-1] == (10,)


def test_save_and_load_round_trip(tmp_path):
    model = build_model("cnn", 1, 10)
    meta = {"arch": "cnn", "in_channels": 1, "num_classes": 10, "k": 45}
    save_model(tmp_path / "m.pt", model, meta)
    loaded, loaded_meta = load_model(tmp_path / "m.pt")
    assert loaded_meta == meta
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model.eval()(x), loaded(x))


def test_bad_models_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("vgg", 2, 10)
    with pytest.raises(ValueError, match="lacks"):
        save_model(tmp_path / "m.pt", build_model("cnn", 2, 10), {"arch": "cnn"})
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path / "missing.pt")


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_cifar_resnets_have_the_known_sizes_and_keep_32x32_in_the_stem():
    # CIFAR ResNet18 for 3 channels and 10 classes has 11,173,962 parameters; six input
    # channels add 3 * 64 * 3 * 3 stem weights.
    assert parameter_count(build_model("resnet18", 3, 10)) == 11_173_962
    model = build_model("resnet18", 6, 10)
    assert parameter_count(model) == 11_173_962 + 3 * 64 * 9
    assert parameter_count(build_model("resnet50", 3, 10)) == 23_520_842
    assert isinstance(model.maxpool, torch.nn.Identity)
    x = torch.rand(2, 6, 32, 32)
    assert model.conv1(x).shape == (2, 64, 32, 32)
    assert model.eval()(x).shape == (2, 10)
    assert build_model("resnet50", 6, 10).eval()(x).shape == (2, 10)


def test_imagenet_resnet50_is_torchvisions_with_a_wider_stem():
    # torchvision's resnet50 has 25,557,032 parameters; six channels add 3 * 64 * 7 * 7.
    assert parameter_count(build_model("imagenet_resnet50", 3, 1000)) == 25_557_032
    model = build_model("imagenet_resnet50", 6, 1000).eval()
    assert parameter_count(model) == 25_557_032 + 3 * 64 * 49
    x = torch.rand(2, 6, 224, 224)
    assert model.maxpool(model.relu(model.bn1(model.conv1(x)))).shape == (2, 64, 56, 56)
    with torch.no_grad():
        assert model(x).shape == (2, 1000)


def test_resnet_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet18", 6, 10)
    with torch.no_grad():  # make the batch-norm statistics non-trivial so they must round trip
        model.train()(torch.rand(8, 6, 32, 32))
    meta = {"arch": "resnet18", "in_channels": 6, "num_classes": 10, "k": 75}
    save_model(tmp_path / "r.pt", model, meta)
    loaded, loaded_meta = load_model(tmp_path / "r.pt")
    assert loaded_meta == meta and not loaded.training
    x = torch.rand(3, 6, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded(x))


def conv_layers(model: torch.nn.Module) -> list[torch.nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_cifar_resnets_keep_pytorchs_default_initialisation(arch):
    # pytorch_cifar (the authors' ResNets) keeps nn.Conv2d's default: uniform on
    # [-1/sqrt(fan_in), 1/sqrt(fan_in)], standard deviation bound/sqrt(3). torchvision's Kaiming
    # fan-out normal has standard deviation sqrt(2/fan_out), about 2.4 times as large for 3x3.
    torch.manual_seed(0)
    convs = conv_layers(build_model(arch, 6, 10))
    assert len(convs) == {"resnet18": 20, "resnet50": 53}[arch]
    for conv in convs:
        w = conv.weight.detach()
        bound = 1 / (w[0].numel() ** 0.5)
        assert w.abs().max() <= bound
        if w.numel() >= 4096:  # enough weights for a tight estimate of the spread
            assert abs(w.std().item() - bound / 3**0.5) < 0.05 * bound


def test_imagenet_resnet50_keeps_torchvisions_kaiming_initialisation():
    torch.manual_seed(0)
    for conv in conv_layers(build_model("imagenet_resnet50", 6, 1000)):
        w = conv.weight.detach()
        fan_out = w.shape[0] * w[0, 0].numel()
        assert abs(w.std().item() - (2 / fan_out) ** 0.5) < 0.05 * (2 / fan_out) ** 0.5


ONEDNN = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")


def check_fused_cnn(planted, monkeypatch) -> None:
    """The fused CNN's bf16 logits are the fp32 CNN's within bf16 rounding, as the plain CNN's."""
    if planted:  # the Flatten forgets the channels-last order the next Linear's weight expects
        monkeypatch.setattr(models._FlattenChannelsLast, "forward", lambda self, x: x.flatten(1))
    torch.manual_seed(0)
    model = build_model("cnn", 2, 10).eval()
    plain = copy.deepcopy(model).to(torch.bfloat16).to(memory_format=torch.channels_last)
    fused = fuse_for_cpu(plain, 128)
    assert [type(layer).__name__ for layer in fused] == ["_FusedConv"] * 2 + [
        "_FlattenChannelsLast"
    ] + ["_FusedLinear"] * 3
    x = (torch.rand(300, 2, 28, 28) < 45 / 784).float()  # ablated inputs: mostly NULL
    x[:, 1] *= torch.rand(300, 28, 28)
    x16 = x.bfloat16().contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        exact, ours, theirs = model(x), fused(x16).float(), plain(x16).float()
    scale = float(exact.abs().max())
    assert float((theirs - exact).abs().max()) <= 0.02 * scale  # bf16 rounding: the yardstick
    assert float((ours - exact).abs().max()) <= 0.02 * scale
    assert float((ours - theirs).abs().max()) <= 0.02 * scale
    with torch.inference_mode():  # a copy (its packed weights packed anew) computes the same
        assert torch.equal(copy.deepcopy(fused)(x16).float(), ours)


@ONEDNN
@pytest.mark.parametrize("planted", [None, "flatten in (C, H, W) order"])
def test_fused_cnn_computes_the_cnn_within_bf16_rounding(planted, monkeypatch):
    holds_unless_planted(planted, check_fused_cnn, planted, monkeypatch)


@ONEDNN
def test_fuse_for_cpu_declines_models_it_cannot_run_as_fused_layers():
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    reflect = torch.nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect")
    linear = torch.nn.Linear(4 * 28 * 28, 10)
    assert fuse_for_cpu(build_model("resnet18", 6, 10)) is None  # not a Sequential
    nn = torch.nn
    assert fuse_for_cpu(nn.Sequential(conv, nn.MaxPool2d(2), nn.Flatten(), linear)) is None
    assert fuse_for_cpu(nn.Sequential(reflect, nn.ReLU(), nn.Flatten(), linear)) is None
    assert fuse_for_cpu(nn.Sequential(nn.Flatten(), nn.Linear(2 * 28 * 28, 10))) is None
    assert fuse_for_cpu(nn.Sequential(conv, nn.Flatten(), nn.ReLU(), linear)) is None
    assert fuse_for_cpu(nn.Sequential(conv, nn.ReLU(), nn.Flatten(), linear)) is not None
