"""The authors' released checkpoints, written here in exactly their format, load as our models."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet50

from randablate.authors import find_authors_checkpoints
from randablate.models import (
    import_authors_checkpoint,
    load_authors_checkpoint,
    load_model,
    save_model,
)
from randablate.smoothing import load_smoothed

# The five files of checkpoints/ in alevine0/randomizedAblation.
MNIST_NAME = "mnist_lr_0.001_keep_45_epoch_399_resume_mnist_lr_0.01_keep_45_epoch_199.pth.pth"
MNIST_MEAN_NAME = (
    "mnist_mean_lr_0.001_keep_45_epoch_399_resume_mnist_mean_lr_0.01_keep_45_epoch_199.pth.pth"
)
CIFAR_NAME = (
    "cifar_lr_0.001_regularization_0.0005_model_resnet18_keep_75_epoch_399_resume_"
    "cifar_lr_0.01_regularization_0.0005_model_resnet18_keep_75_epoch_199.pth.pth"
)
CIFAR_MEAN_NAME = CIFAR_NAME.replace("cifar_", "cifar_mean_")
IMAGENET_NAME = (
    "imagenet_plain_lr_0.001_regularization_0.0001_model_resnet50_keep_1000_epoch_35.pth"
)


class Flatten(nn.Module):
    """The authors' flatten layer (no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.size(0), -1)


def authors_mnist_cnn(in_channels: int) -> nn.Sequential:
    """The MNIST net of train_mnist.py (Table 9): parameters at indices 0, 2, 5, 7, 9."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 128, 4, stride=2, padding=1),
        nn.ReLU(),
        Flatten(),
        nn.Linear(128 * 7 * 7, 500),
        nn.ReLU(),
        nn.Linear(500, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


class CifarBlock(nn.Module):
    """A pytorch_cifar-layout basic block: conv1/bn1/conv2/bn2 and a conv+bn `shortcut`."""

    def __init__(self, planes_in: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(planes_in, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or planes_in != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(planes_in, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet18(nn.Module):
    """A pytorch_cifar-layout ResNet18: conv1, bn1, layer1-4 of two blocks, 4x4 pool, linear."""

    def __init__(self, in_channels: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for n, (planes_in, planes, stride) in enumerate(widths, start=1):
            blocks = [CifarBlock(planes_in, planes, stride), CifarBlock(planes, planes, 1)]
            setattr(self, f"layer{n}", nn.Sequential(*blocks))
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        for n in range(1, 5):
            out = getattr(self, f"layer{n}")(out)
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


def imagenet_net() -> nn.Module:
    """The authors' resnet_imgnt.resnet50: torchvision's layout with a 6-channel conv1."""
    net = resnet50(weights=None)
    net.conv1 = nn.Conv2d(6, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return net


def save_as_authors(net: nn.Module, path, sample: torch.Tensor) -> nn.Module:
    """Give batch norms running statistics, then torch.save the DataParallel state as they did."""
    with torch.no_grad():
        net.train()(sample)
    torch.save({"net": nn.DataParallel(net).state_dict(), "acc": 92.4, "epoch": 399}, path)
    return net.eval()


# name: (file name, dataset, encoding, k, arch, net builder, input shape)
CASES = {
    "mnist": (MNIST_NAME, "mnist", "multichannel", 45, "cnn", lambda: authors_mnist_cnn(2),
              (2, 28, 28)),
    "mnist_mean": (MNIST_MEAN_NAME, "mnist", "mean", 45, "cnn", lambda: authors_mnist_cnn(1),
                   (1, 28, 28)),
    "cifar": (CIFAR_NAME, "cifar10", "multichannel", 75, "resnet18", lambda: CifarResNet18(6),
              (6, 32, 32)),
    "cifar_mean": (CIFAR_MEAN_NAME, "cifar10", "mean", 75, "resnet18", lambda: CifarResNet18(3),
                   (3, 32, 32)),
    "imagenet": (IMAGENET_NAME, "imagenet", "multichannel", 1000, "imagenet_resnet50",
                 imagenet_net, (6, 64, 64)),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_authors_checkpoint_gives_the_same_logits(tmp_path, case):
    name, dataset, encoding, k, arch, build, shape = CASES[case]
    torch.manual_seed(0)
    net = save_as_authors(build(), tmp_path / name, torch.rand(8, *shape))
    model, meta = load_authors_checkpoint(tmp_path / name, dataset, encoding, k)
    x = torch.rand(4, *shape)
    with torch.no_grad():
        theirs, ours = net(x), model(x)
    assert not model.training
    assert theirs.shape == (4, 1000 if dataset == "imagenet" else 10)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert meta["arch"] == arch and meta["k"] == k and meta["dataset"] == dataset
    assert meta["encoding"] == encoding and meta["in_channels"] == shape[0]
    assert meta["authors_checkpoint"] == {"file": name, "acc": 92.4, "epoch": 399}
    expected_mean = {"mnist": [0.1307], "cifar10": [0.4914, 0.4822, 0.4465]}
    assert meta["mean"] == (expected_mean[dataset] if encoding == "mean" else None)
    assert (meta["normalize"] is not None) == (dataset == "imagenet")


def test_an_imported_checkpoint_serves_the_smoothed_classifier(tmp_path):
    torch.manual_seed(1)
    net = save_as_authors(
        authors_mnist_cnn(1), tmp_path / MNIST_MEAN_NAME, torch.rand(8, 1, 28, 28)
    )
    model, meta = load_authors_checkpoint(tmp_path / MNIST_MEAN_NAME, "mnist", "mean", 45)
    save_model(tmp_path / "model.pt", model, meta)
    reloaded, reloaded_meta = load_model(tmp_path / "model.pt")
    assert reloaded_meta == meta
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(reloaded(x), net(x))
    smoothed, _ = load_smoothed(tmp_path / "model.pt", 45)
    null = smoothed.encoding.null(torch.device("cpu"), torch.float32)
    assert null.tolist() == pytest.approx([0.1307])  # the authors' NULL, from utils_mean.py


def test_find_authors_checkpoints_maps_their_file_names(tmp_path):
    for name, *_ in CASES.values():
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "README.md").write_text("not a checkpoint")
    found = find_authors_checkpoints(tmp_path)
    assert {key: path.name for key, path in found.items()} == {
        ("mnist", "multichannel", "cnn", 45): MNIST_NAME,
        ("mnist", "mean", "cnn", 45): MNIST_MEAN_NAME,
        ("cifar10", "multichannel", "resnet18", 75): CIFAR_NAME,
        ("cifar10", "mean", "resnet18", 75): CIFAR_MEAN_NAME,
        ("imagenet", "multichannel", "imagenet_resnet50", 1000): IMAGENET_NAME,
    }
    (tmp_path / MNIST_NAME.replace("epoch_399", "epoch_299")).write_bytes(b"")
    with pytest.raises(ValueError, match="are both the authors' mnist multichannel cnn model"):
        find_authors_checkpoints(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no directory .*nowhere"):
        find_authors_checkpoints(tmp_path / "nowhere")


@pytest.fixture
def cifar_file(tmp_path):
    torch.manual_seed(2)
    save_as_authors(CifarResNet18(6), tmp_path / CIFAR_NAME, torch.rand(4, 6, 32, 32))
    return tmp_path / CIFAR_NAME


def test_a_wrong_k_is_refused_naming_the_file(cifar_file):
    with pytest.raises(ValueError, match="holds a model for k=75 \\(keep_75\\), not k=45") as e:
        load_authors_checkpoint(cifar_file, "cifar10", "multichannel", 45)
    assert str(cifar_file) in str(e.value)


def test_a_wrong_architecture_is_refused_naming_the_file(cifar_file, tmp_path):
    # asked for another architecture than the file's name says
    with pytest.raises(
        ValueError, match="model by its name, not the cifar10 multichannel resnet50"
    ):
        load_authors_checkpoint(cifar_file, "cifar10", "multichannel", 75, arch="resnet50")
    with pytest.raises(ValueError, match="the authors' mnist models are cnn, not 'resnet18'"):
        load_authors_checkpoint(cifar_file, "mnist", "multichannel", 75, arch="resnet18")
    # a file named as their CIFAR ResNet18 that holds their MNIST CNN
    wrong = tmp_path / "wrong" / CIFAR_NAME
    wrong.parent.mkdir()
    save_as_authors(authors_mnist_cnn(2), wrong, torch.rand(2, 2, 28, 28))
    with pytest.raises(ValueError) as e:
        load_authors_checkpoint(wrong, "cifar10", "multichannel", 75)
    message = str(e.value)
    assert message.startswith(f"{wrong} does not match the authors' cifar10 resnet18 with 6 ")
    assert "missing: bn1.bias" in message and "unexpected: 0.bias" in message
    # the mean encoding's 3-channel net under the multichannel name: conv1 has the wrong width
    save_as_authors(CifarResNet18(3), wrong, torch.rand(2, 3, 32, 32))
    with pytest.raises(
        ValueError, match=r"shapes: conv1.weight \(64, 3, 3, 3\) \(expected \(64, 6"
    ):
        load_authors_checkpoint(wrong, "cifar10", "multichannel", 75)


def test_a_corrupt_or_foreign_file_is_refused_naming_the_file(cifar_file, tmp_path):
    data = cifar_file.read_bytes()
    cifar_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="expected the authors' cifar10 resnet18") as e:
        load_authors_checkpoint(cifar_file, "cifar10", "multichannel", 75)
    assert str(e.value).startswith(f"cannot read {cifar_file}: ")
    torch.save({"state_dict": {}}, cifar_file)
    with pytest.raises(ValueError, match="has no 'net' state dict; expected the authors'") as e:
        load_authors_checkpoint(cifar_file, "cifar10", "multichannel", 75)
    assert str(e.value).startswith(str(cifar_file))
    torch.save({"net": CifarResNet18(6).state_dict()}, cifar_file)  # saved without DataParallel
    with pytest.raises(ValueError, match=r"keys of 'net' lack the module\. prefix"):
        load_authors_checkpoint(cifar_file, "cifar10", "multichannel", 75)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint file at .*missing"):
        load_authors_checkpoint(tmp_path / "missing" / CIFAR_NAME, "cifar10", "multichannel", 75)
    renamed = tmp_path / "model.pth"
    renamed.write_bytes(data)
    with pytest.raises(ValueError, match=r"not an authors' checkpoint name; expected e\.g\."):
        load_authors_checkpoint(renamed, "cifar10", "multichannel", 75)


def test_the_import_job_saves_the_model_with_its_source(tmp_path):
    torch.manual_seed(2)
    net = save_as_authors(authors_mnist_cnn(2), tmp_path / MNIST_NAME, torch.rand(8, 2, 28, 28))
    out = tmp_path / "models" / "model.pt"
    import_authors_checkpoint(
        tmp_path / MNIST_NAME,
        out,
        dataset="mnist",
        encoding="multichannel",
        k=45,
        arch="cnn",
        repo=tmp_path,
    )
    model, meta = load_model(out)
    _, loaded = load_authors_checkpoint(tmp_path / MNIST_NAME, "mnist", "multichannel", 45)
    assert {key: value for key, value in meta.items() if key != "provenance"} == loaded
    assert meta["provenance"] == {
        "git_commit": "unknown (not a git checkout)",
        "packages": meta["provenance"]["packages"],
        "source": f"the authors' released checkpoint {tmp_path / MNIST_NAME}",
    }
    assert meta["provenance"]["packages"]["torch"] == torch.__version__.split("+")[0]
    x = torch.rand(3, 2, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), net(x))
