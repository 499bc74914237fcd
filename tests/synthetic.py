"""Small synthetic datasets written in the real on-disk formats of CIFAR-10 and ImageNet."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_LABEL_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
# One distinct RGB colour per class (CIFAR-10 and ImageNet alike, cycled for more classes).
CLASS_COLOURS = np.array(
    [
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
        [128, 128, 0],
        [0, 0, 128],
    ],
    dtype=np.int16,
)


class _Py2Pickler(pickle._Pickler):
    """Pickler that writes bytes as Python 2 `str` (BINSTRING), as the CIFAR-10 pickles hold them.

    Loaded with encoding="latin1" (as torchvision does) these become str, with encoding="bytes"
    they stay bytes: the same as the original files, which were pickled by Python 2.
    """

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes) -> None:
        """Write `obj` with the SHORT_BINSTRING or BINSTRING opcode."""
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + struct.pack("<B", len(obj)) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def _py2_pickle(obj: object, path: Path) -> str:
    """Pickle `obj` in the Python 2 style to `path`; return the file's md5."""
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    path.write_bytes(buffer.getvalue())
    return hashlib.md5(buffer.getvalue()).hexdigest()


def _class_image(label: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Return an (H,W,3) uint8 image: the class colour, a class-specific stripe pattern, noise."""
    colour = CLASS_COLOURS[label % len(CLASS_COLOURS)]
    rows, cols = np.mgrid[0:height, 0:width]
    period = 2 + label % 5
    stripes = ((rows + cols * (label % 2)) // period) % 2  # horizontal or diagonal by class
    image = colour + 40 * stripes[..., None] - 20
    image = image + rng.integers(-25, 26, size=(height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _cifar_batch(n: int, batch_label: str, rng: np.random.Generator) -> dict[bytes, object]:
    """Return one CIFAR-10 batch dict of `n` class-dependent images with balanced labels."""
    labels = rng.permutation(np.arange(n) % 10)
    images = np.zeros((n, 32, 32, 3), dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i] = _class_image(int(c), 32, 32, rng)
    # Row-major 3072 bytes per image: the 1024 red values, then green, then blue.
    data = images.transpose(0, 3, 1, 2).reshape(n, 3072)
    names = [f"synthetic_{batch_label.replace(' ', '_')}_{i:05d}.png".encode() for i in range(n)]
    return {
        b"batch_label": batch_label.encode(),
        b"labels": [int(c) for c in labels],
        b"data": np.ascontiguousarray(data, dtype=np.uint8),
        b"filenames": names,
    }


def write_cifar10(root: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> dict[str, str]:
    """Write a small CIFAR-10 in its python-pickle format under root/cifar-10-batches-py/.

    Returns {file name: md5} of the seven files written; the training images are spread over
    data_batch_1..5 as evenly as possible.
    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    md5s = {}
    sizes = [len(part) for part in np.array_split(np.arange(n_train), 5)]
    for i, size in enumerate(sizes, start=1):
        batch = _cifar_batch(size, f"training batch {i} of 5", rng)
        md5s[f"data_batch_{i}"] = _py2_pickle(batch, folder / f"data_batch_{i}")
    md5s["test_batch"] = _py2_pickle(
        _cifar_batch(n_test, "testing batch 1 of 1", rng), folder / "test_batch"
    )
    meta = {
        b"num_cases_per_batch": 10000,
        b"label_names": [name.encode() for name in CIFAR10_LABEL_NAMES],
        b"num_vis": 3072,
    }
    md5s["batches.meta"] = _py2_pickle(meta, folder / "batches.meta")
    return md5s


def patch_cifar10_md5s(monkeypatch: pytest.MonkeyPatch, md5s: dict[str, str]) -> None:
    """Make torchvision's CIFAR10 integrity check accept the files of `write_cifar10`."""
    from torchvision.datasets import CIFAR10

    train = [[f"data_batch_{i}", md5s[f"data_batch_{i}"]] for i in range(1, 6)]
    monkeypatch.setattr(CIFAR10, "train_list", train)
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5s["batches.meta"]})


def imagenet_wnid(index: int) -> str:
    """Return the synthetic WordNet id of class `index` (0 -> "n00000001")."""
    return f"n{index + 1:08d}"


def write_imagenet(
    root: Path,
    classes: int = 3,
    train_per_class: int = 4,
    val_per_class: int = 3,
    size: tuple[int, int] = (40, 48),
    seed: int = 0,
) -> None:
    """Write a small ImageNet of JPEGs in ImageFolder layout: root/train/<wnid>/, root/val/<wnid>/.

    `size` is (height, width). Validation files are numbered 1.. in a seeded random order across
    classes, as in ILSVRC2012, so file order and class order differ.
    """
    rng = np.random.default_rng(seed)
    height, width = size
    root = Path(root)
    val_numbers = iter(rng.permutation(classes * val_per_class) + 1)
    for c in range(classes):
        wnid = imagenet_wnid(c)
        for split in ("train", "val"):
            (root / split / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(train_per_class):
            image = Image.fromarray(_class_image(c, height, width, rng))
            image.save(root / "train" / wnid / f"{wnid}_{i}.JPEG", format="JPEG", quality=95)
        for _ in range(val_per_class):
            image = Image.fromarray(_class_image(c, height, width, rng))
            name = f"ILSVRC2012_val_{next(val_numbers):08d}.JPEG"
            image.save(root / "val" / wnid / name, format="JPEG", quality=95)


def write_imagenet_listing(
    root: Path, classes: int = 1000, val_per_class: int = 50, seed: int = 0
) -> None:
    """Write ImageNet's folder layout with empty files, for code that only lists the files.

    train/ has one empty folder per class; val/ has `val_per_class` empty JPEG files per class,
    numbered 1.. in a seeded random order across classes, as in ILSVRC2012.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    val_numbers = iter(rng.permutation(classes * val_per_class) + 1)
    for c in range(classes):
        wnid = imagenet_wnid(c)
        (root / "train" / wnid).mkdir(parents=True, exist_ok=True)
        (root / "val" / wnid).mkdir(parents=True, exist_ok=True)
        for _ in range(val_per_class):
            (root / "val" / wnid / f"ILSVRC2012_val_{next(val_numbers):08d}.JPEG").touch()
