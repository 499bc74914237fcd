import pytest
import torch

from randablate.models import build_model, load_model, save_model


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
