"""Tests for CIFAR-10 and ImageNet loading, on synthetic data written in the real formats."""

from __future__ import annotations

import logging
import pickle
import re
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import (
    CIFAR10_FOLDER,
    CLASS_COLOURS,
    imagenet_wnid,
    patch_cifar10_md5s,
    write_cifar10,
    write_imagenet,
)
from torchvision.datasets import CIFAR10, ImageFolder

from randablate import data
from randablate.data import (
    ensure_cifar10,
    imagenet_eval_subset,
    imagenet_train_dataset,
    load_cifar10,
    load_imagenet_images,
    load_split,
)
from randablate.datasets import DATASETS, DataError, check_cifar10_dir, check_imagenet_dir

# ---------------------------------------------------------------------------------------------
# CIFAR-10


@pytest.fixture
def cifar_root(tmp_path, monkeypatch) -> Path:
    """A torchvision root with a synthetic CIFAR-10 (50 train, 20 test) that torchvision accepts."""
    root = tmp_path / "cifar"
    patch_cifar10_md5s(monkeypatch, write_cifar10(root, n_train=50, n_test=20, seed=0))
    return root


def _raw_batches(root: Path, names: list[str]) -> tuple[np.ndarray, list[int]]:
    """Read CIFAR-10 pickles directly (as bytes-keyed dicts) and concatenate them."""
    rows, labels = [], []
    for name in names:
        with open(root / CIFAR10_FOLDER / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        rows.append(batch[b"data"])
        labels += batch[b"labels"]
    return np.concatenate(rows), labels


def _assert_cifar_error_says_how(message: str) -> None:
    assert "`cifar10.dir`" in message
    assert "`cifar10.download: true`" in message
    assert "python version of CIFAR-10 from the CIFAR-10 home page, unpacked" in message
    assert "http" not in message
    assert "toronto" not in message.lower()


def test_synthetic_cifar10_is_in_the_python2_pickle_format(tmp_path):
    md5s = write_cifar10(tmp_path, n_train=7, n_test=3)
    folder = tmp_path / CIFAR10_FOLDER
    assert sorted(md5s) == sorted(p.name for p in folder.iterdir())
    assert md5s["test_batch"] == data.md5sum(folder / "test_batch")
    with open(folder / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="latin1")  # str keys, as with the original files
    assert sorted(batch) == ["batch_label", "data", "filenames", "labels"]
    assert batch["data"].dtype == np.uint8
    assert batch["data"].shape == (2, 3072)  # 7 images over 5 batches: 2, 2, 1, 1, 1
    sizes = [len(_raw_batches(tmp_path, [f"data_batch_{i}"])[1]) for i in range(1, 6)]
    assert sizes == [2, 2, 1, 1, 1]
    with open(folder / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="bytes")
    assert meta[b"label_names"][0] == b"airplane"
    assert len(meta[b"label_names"]) == 10


def test_load_cifar10_round_trips_pixels_and_labels(cifar_root):
    x, y = load_cifar10(cifar_root, "train")
    raw, labels = _raw_batches(cifar_root, [f"data_batch_{i}" for i in range(1, 6)])
    assert x.shape == (50, 3, 32, 32)
    assert x.dtype == torch.float32
    assert y.dtype == torch.int64
    assert y.tolist() == labels
    assert sorted(np.bincount(labels).tolist()) == [5] * 10  # every class, 10 per batch
    # Row of 3072 bytes: red plane, then green, then blue, each row-major.
    i, h, w = 17, 5, 29
    for channel in range(3):
        value = raw[i, channel * 1024 + h * 32 + w]
        assert x[i, channel, h, w].item() == np.float32(value) / np.float32(255)
    expected = torch.from_numpy(raw.reshape(50, 3, 32, 32)).to(torch.float32) / 255.0
    assert torch.equal(x, expected)
    assert x.min() >= 0.0
    assert x.max() <= 1.0

    x_test, y_test = load_cifar10(cifar_root, "test")
    raw_test, labels_test = _raw_batches(cifar_root, ["test_batch"])
    assert x_test.shape == (20, 3, 32, 32)
    assert torch.equal(x_test, torch.from_numpy(raw_test.reshape(20, 3, 32, 32)).float() / 255)
    assert y_test.tolist() == labels_test


def test_synthetic_cifar10_images_carry_their_class_colour(cifar_root):
    x, y = load_cifar10(cifar_root, "train")
    for label in range(10):
        mean = x[y == label].mean(dim=(0, 2, 3)) * 255
        assert torch.allclose(
            mean, torch.tensor(CLASS_COLOURS[label], dtype=torch.float32), atol=12
        )


def test_load_cifar10_rejects_a_corrupted_batch(cifar_root):
    path = cifar_root / CIFAR10_FOLDER / "data_batch_3"
    content = bytearray(path.read_bytes())
    content[-100] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(DataError) as excinfo:
        load_cifar10(cifar_root, "train")
    message = str(excinfo.value)
    assert f"{path}: md5 mismatch" in message
    assert "data_batch_1" not in message  # only the corrupted file is named
    _assert_cifar_error_says_how(message)
    # torchvision checks all six batch files, so the test split is refused too.
    with pytest.raises(DataError, match="data_batch_3: md5 mismatch"):
        load_cifar10(cifar_root, "test")
    with pytest.raises(DataError, match="data_batch_3: md5 mismatch"):
        ensure_cifar10(cifar_root)


def test_load_cifar10_checks_the_real_md5s_by_default(tmp_path):
    write_cifar10(tmp_path)  # without patching, torchvision expects the original files
    expected = CIFAR10.train_list[0][1]
    with pytest.raises(DataError, match=f"data_batch_1: md5 mismatch, expected {expected}"):
        load_cifar10(tmp_path, "test")


def test_missing_cifar10_error_says_where_and_how(tmp_path):
    root = tmp_path / "absent"
    with pytest.raises(DataError) as excinfo:
        ensure_cifar10(root, download=False)
    message = str(excinfo.value)
    assert f"searched {root / CIFAR10_FOLDER}" in message
    assert f"{root / CIFAR10_FOLDER}: no such directory\n" in message
    _assert_cifar_error_says_how(message)
    assert not root.exists()  # download=False writes nothing
    with pytest.raises(DataError) as excinfo:
        load_cifar10(root, "train")
    _assert_cifar_error_says_how(str(excinfo.value))


def test_cifar10_error_spots_the_batches_folder_given_itself(cifar_root):
    inner = cifar_root / CIFAR10_FOLDER
    with pytest.raises(DataError, match="looks like cifar-10-batches-py/ itself"):
        load_cifar10(inner, "train")
    (inner / "test_batch").unlink()
    with pytest.raises(DataError) as excinfo:
        ensure_cifar10(cifar_root)
    message = str(excinfo.value)
    assert f"{inner / 'test_batch'}: missing" in message
    assert "data_batch_1" not in message


def test_ensure_cifar10_accepts_existing_files_without_downloading(cifar_root, monkeypatch, caplog):
    def no_download(self) -> None:
        raise AssertionError("must not download")

    monkeypatch.setattr(CIFAR10, "download", no_download)
    with caplog.at_level(logging.INFO):
        assert ensure_cifar10(cifar_root, log=logging.getLogger("test")) == cifar_root
    assert "verified files already in" in caplog.text
    assert ensure_cifar10(str(cifar_root), download=True) == cifar_root


def test_ensure_cifar10_downloads_through_torchvision(tmp_path, monkeypatch):
    md5s = write_cifar10(tmp_path / "scratch", seed=4)  # same seed, same bytes, same md5s
    patch_cifar10_md5s(monkeypatch, md5s)
    calls = []

    def fake_download(self) -> None:
        calls.append(self.root)
        write_cifar10(Path(self.root), seed=4)

    monkeypatch.setattr(CIFAR10, "download", fake_download)
    root = tmp_path / "root"
    assert ensure_cifar10(root, download=True) == root
    assert calls == [str(root)]
    assert load_cifar10(root, "test")[0].shape == (20, 3, 32, 32)


def test_ensure_cifar10_reports_a_failed_download(tmp_path, monkeypatch):
    def failing_download(self) -> None:
        raise urllib.error.URLError("https://mirror.invalid/cifar.tar.gz unreachable")

    monkeypatch.setattr(CIFAR10, "download", failing_download)
    with pytest.raises(DataError) as excinfo:
        ensure_cifar10(tmp_path, download=True)
    message = str(excinfo.value)
    assert "download failed: URLError: <urlopen error <url> unreachable>" in message
    _assert_cifar_error_says_how(message)


def test_load_cifar10_rejects_an_unknown_split(cifar_root):
    with pytest.raises(ValueError, match="split must be one of"):
        load_cifar10(cifar_root, "validation")


# ---------------------------------------------------------------------------------------------
# Registry and load_split


def test_dataset_registry_shapes_and_pixel_counts():
    assert {name: info.d for name, info in DATASETS.items()} == {
        "mnist": 784,
        "cifar10": 1024,
        "imagenet": 50176,
    }
    shapes = {n: (i.channels, i.height, i.width, i.num_classes) for n, i in DATASETS.items()}
    assert shapes == {
        "mnist": (1, 28, 28, 10),
        "cifar10": (3, 32, 32, 10),
        "imagenet": (3, 224, 224, 1000),
    }
    assert all(name == info.name for name, info in DATASETS.items())
    assert [DATASETS[n].section for n in ("mnist", "cifar10", "imagenet")] == [
        "table1",
        "table3",
        "table6",
    ]


def test_load_split_dispatches_by_dataset(cifar_root, monkeypatch):
    x, y = load_split("cifar10", cifar_root, "test")
    x_ref, y_ref = load_cifar10(cifar_root, "test")
    assert torch.equal(x, x_ref)
    assert torch.equal(y, y_ref)

    seen = []

    def fake_load_mnist(directory, split):
        seen.append((directory, split))
        return torch.zeros(2, 1, 28, 28), torch.tensor([3, 4])

    monkeypatch.setattr(data.mnist, "load_mnist", fake_load_mnist)
    assert load_split("mnist", "somewhere", "train")[1].tolist() == [3, 4]
    assert seen == [("somewhere", "train")]
    with pytest.raises(ValueError, match="imagenet_eval_subset"):
        load_split("imagenet", cifar_root, "train")
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        load_split("svhn", cifar_root, "train")


# ---------------------------------------------------------------------------------------------
# ImageNet


@pytest.fixture
def imagenet_root(tmp_path) -> Path:
    """A synthetic ImageNet: 4 classes, 5 train and 5 val JPEGs each."""
    root = tmp_path / "imagenet"
    write_imagenet(root, classes=4, train_per_class=5, val_per_class=5, seed=0)
    return root


def _val_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root / "val").as_posix() for p in (root / "val").glob("*/*"))


def test_synthetic_imagenet_layout(imagenet_root):
    wnids = [imagenet_wnid(c) for c in range(4)]
    assert wnids[0] == "n00000001"
    assert sorted(p.name for p in (imagenet_root / "train").iterdir()) == wnids
    assert (imagenet_root / "train" / "n00000002" / "n00000002_4.JPEG").is_file()
    files = _val_files(imagenet_root)
    assert len(files) == 20
    numbers = sorted(int(f.split("_val_")[1].removesuffix(".JPEG")) for f in files)
    assert numbers == list(range(1, 21))
    with Image.open(imagenet_root / "val" / files[0]) as image:
        assert image.format == "JPEG"
        assert image.size == (48, 40)  # (width, height)


def test_imagenet_subset_is_a_seeded_uniform_draw(imagenet_root):
    subset = imagenet_eval_subset(imagenet_root, 8, seed=1)
    assert list(subset.columns) == ["position", "file", "label", "wnid", "val_index"]
    assert subset["position"].tolist() == list(range(8))
    files = _val_files(imagenet_root)
    order = np.random.default_rng(1).permutation(len(files))[:8]
    assert subset["file"].tolist() == [files[i] for i in order]
    assert subset["val_index"].tolist() == order.tolist()
    assert subset["file"].is_unique

    again = imagenet_eval_subset(imagenet_root, 8, seed=1)
    assert again.equals(subset)
    other = imagenet_eval_subset(imagenet_root, 8, seed=2)
    assert other["file"].tolist() != subset["file"].tolist()
    prefix = imagenet_eval_subset(imagenet_root, 3, seed=1)
    assert prefix.equals(subset.iloc[:3])
    everything = imagenet_eval_subset(imagenet_root, 20, seed=5)
    assert sorted(everything["file"]) == files


def test_imagenet_subset_labels_follow_the_training_classes(imagenet_root):
    shutil.rmtree(imagenet_root / "val" / "n00000001")  # val lacks class 0: indices must not shift
    subset = imagenet_eval_subset(imagenet_root, 15, seed=0)
    class_to_idx = ImageFolder(str(imagenet_root / "train")).class_to_idx
    assert subset["wnid"].tolist() == [f.split("/")[0] for f in subset["file"]]
    assert subset["label"].tolist() == [class_to_idx[w] for w in subset["wnid"]]
    assert sorted(set(subset["label"])) == [1, 2, 3]
    assert subset["label"].dtype == np.int64


def test_imagenet_subset_errors(imagenet_root):
    with pytest.raises(DataError, match=r"asked for 21 validation images but .* holds only 20"):
        imagenet_eval_subset(imagenet_root, 21, seed=0)
    with pytest.raises(ValueError, match="at least 1"):
        imagenet_eval_subset(imagenet_root, 0, seed=0)
    extra = imagenet_root / "val" / "n09999999"
    extra.mkdir()
    shutil.copy(next((imagenet_root / "val" / "n00000001").iterdir()), extra / "x.JPEG")
    with pytest.raises(DataError, match=r"class folder\(s\) with images .* lacks.*: n09999999"):
        imagenet_eval_subset(imagenet_root, 5, seed=0)


def test_check_imagenet_dir(imagenet_root, tmp_path):
    assert check_imagenet_dir(str(imagenet_root)) == imagenet_root
    with pytest.raises(DataError, match=r"^imagenet\.dir is not set: expected .*train/ and val/"):
        check_imagenet_dir(None)
    with pytest.raises(DataError, match=r"^imagenet_eval\.dir is not set"):
        check_imagenet_dir(None, key="imagenet_eval.dir")
    missing = tmp_path / "nowhere"
    with pytest.raises(
        DataError, match=re.escape(f"imagenet.dir = '{missing}' is not a directory")
    ):
        check_imagenet_dir(missing)
    shutil.rmtree(imagenet_root / "val")
    with pytest.raises(DataError, match=r"has no val/ folder: expected"):
        check_imagenet_dir(imagenet_root)
    (imagenet_root / "val").mkdir()
    (imagenet_root / "val" / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"")
    with pytest.raises(DataError, match="must be sorted into class subfolders"):
        check_imagenet_dir(imagenet_root)


def test_load_imagenet_images_shape_range_and_colour(imagenet_root):
    subset = imagenet_eval_subset(imagenet_root, 6, seed=0)
    images = load_imagenet_images(imagenet_root, subset["file"].tolist())
    assert images.shape == (6, 3, 224, 224)
    assert images.dtype == torch.float32
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    for image, label in zip(images, subset["label"], strict=True):
        colour = torch.tensor(CLASS_COLOURS[label], dtype=torch.float32)
        assert torch.allclose(image.mean(dim=(1, 2)) * 255, colour, atol=15)
    assert load_imagenet_images(imagenet_root, subset["file"].tolist(), size=112).shape[-2:] == (
        112,
        112,
    )
    assert load_imagenet_images(imagenet_root, []).shape == (0, 3, 224, 224)


def test_load_imagenet_images_takes_the_centre_crop(tmp_path):
    folder = tmp_path / "val" / "n00000001"
    folder.mkdir(parents=True)
    # 256 x 320 (H x W): Resize(256) leaves it as is, CenterCrop(224) starts at row 16, column 48.
    rows, cols = np.mgrid[0:256, 0:320]
    coded = np.stack([rows, cols // 2, np.full_like(rows, 7)], axis=-1).astype(np.uint8)
    Image.fromarray(coded).save(folder / "coded.png")
    # 300 x 600 noise: the short side goes to 256 (256 x 512), then the centre 224 x 224.
    noise = np.random.default_rng(0).integers(0, 256, size=(300, 600, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "noise.png")
    Image.fromarray(noise[:, :, 0]).save(folder / "grey.png")

    images = load_imagenet_images(tmp_path, ["n00000001/coded.png", "n00000001/noise.png"])
    rows_out, cols_out = np.mgrid[0:224, 0:224]
    assert torch.equal(images[0, 0] * 255, torch.from_numpy(16.0 + rows_out).float())
    assert torch.equal(images[0, 1] * 255, torch.from_numpy((48.0 + cols_out) // 2).float())
    assert torch.equal(images[0, 2] * 255, torch.full((224, 224), 7.0))

    reference = Image.fromarray(noise).resize((512, 256), Image.BILINEAR)
    crop = np.asarray(reference)[16:240, 144:368].transpose(2, 0, 1)
    assert torch.equal(images[1], torch.from_numpy(crop.astype(np.float32)) / 255)

    grey = load_imagenet_images(tmp_path, ["n00000001/grey.png"])[0]
    assert torch.equal(grey[0], grey[1])
    assert torch.equal(grey[0], grey[2])
    assert torch.equal(grey[0], images[1, 0])

    with pytest.raises(DataError, match=r"cannot read ImageNet image .*absent\.JPEG"):
        load_imagenet_images(tmp_path, ["n00000001/absent.JPEG"])


def test_imagenet_train_dataset(imagenet_root):
    torch.manual_seed(0)
    dataset = imagenet_train_dataset(imagenet_root)
    assert len(dataset) == 20
    assert dataset.classes == [imagenet_wnid(c) for c in range(4)]
    for index in (0, 7, 19):
        image, label = dataset[index]
        assert image.shape == (3, 224, 224)
        assert image.dtype == torch.float32
        assert image.min() >= 0.0
        assert image.max() <= 1.0
        assert label == index // 5
        colour = torch.tensor(CLASS_COLOURS[label], dtype=torch.float32)
        assert torch.allclose(image.mean(dim=(1, 2)) * 255, colour, atol=25)
    assert imagenet_train_dataset(imagenet_root, size=64)[0][0].shape == (3, 64, 64)
    with pytest.raises(DataError, match=r"imagenet\.dir is not set"):
        imagenet_train_dataset(None)


def test_check_cifar10_dir(tmp_path):
    (tmp_path / CIFAR10_FOLDER).mkdir()
    assert check_cifar10_dir(str(tmp_path)) == tmp_path
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=re.escape(f"cifar10.dir = '{missing}' is not a directory")):
        check_cifar10_dir(missing)
    folder = tmp_path / CIFAR10_FOLDER
    (folder / "data_batch_1").write_bytes(b"")
    with pytest.raises(DataError, match=r"has no cifar-10-batches-py/ folder \(it looks like"):
        check_cifar10_dir(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        DataError, match=r"^my\.key = .* has no cifar-10-batches-py/ folder: expected"
    ):
        check_cifar10_dir(empty, key="my.key")
