"""Each data set's facts, in one torch-free place that the library and the workflow both import.

A pixel's channels count as one pixel (the paper's d): d = 784 for MNIST, 1,024 for CIFAR-10 and
50,176 for ImageNet (224 x 224 after the centre crop).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CIFAR10_FILES",
    "CIFAR10_FOLDER",
    "DATASETS",
    "IMAGENET_LAYOUT",
    "MNIST_FILES",
    "DataError",
    "DatasetInfo",
    "check_cifar10_dir",
    "check_imagenet_dir",
    "class_folders",
]


class DataError(RuntimeError):
    """Raised when dataset files are missing, corrupted, malformed or cannot be obtained."""


@dataclass(frozen=True)
class DatasetInfo:
    """One data set: its key, image shape, classes, printed name, test images, certificate table.

    `test_images` is None where the evaluated images are a subset of the validation set
    (ImageNet: imagenet.num_images of them); `section` is the config section of the data set's
    certificate table.
    """

    name: str
    channels: int
    height: int
    width: int
    num_classes: int
    title: str
    test_images: int | None
    section: str

    @property
    def d(self) -> int:
        """Number of pixels per image (all channels of a pixel count as one, as in the paper)."""
        return self.height * self.width


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", 1, 28, 28, 10, "MNIST", 10_000, "table1"),
    "cifar10": DatasetInfo("cifar10", 3, 32, 32, 10, "CIFAR-10", 10_000, "table3"),
    "imagenet": DatasetInfo("imagenet", 3, 224, 224, 1000, "ImageNet", None, "table6"),
}

# The four original MNIST IDX files and their md5 sums.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

# The python version of CIFAR-10: its folder and the batch files of each split.
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES: dict[str, list[str]] = {
    "train": [f"data_batch_{i}" for i in range(1, 6)] + ["batches.meta"],
    "test": ["test_batch", "batches.meta"],
}

IMAGENET_LAYOUT = (
    "expected a directory holding train/ and val/, each with one subfolder per class named by "
    "its WordNet id (e.g. train/n01440764/*.JPEG, val/n01440764/ILSVRC2012_val_00000293.JPEG), "
    "the layout of torchvision's ImageFolder"
)


def class_folders(directory: str | os.PathLike) -> list[str]:
    """Return the sorted names of the subfolders of `directory`, as ImageFolder finds classes."""
    return sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())


def check_cifar10_dir(directory: str | os.PathLike, key: str = "cifar10.dir") -> Path:
    """Return `directory` as a Path if it holds the folder cifar-10-batches-py/ of CIFAR-10."""
    root = Path(directory)
    expected = (
        f"expected a directory holding {CIFAR10_FOLDER}/ (the python version of CIFAR-10, "
        "unpacked), or cifar10.dir: null with cifar10.download: true"
    )
    if not root.is_dir():
        raise DataError(f"{key} = {str(directory)!r} is not a directory: {expected}")
    if not (root / CIFAR10_FOLDER).is_dir():
        hint = ""
        if (root / "data_batch_1").is_file():
            hint = f" (it looks like {CIFAR10_FOLDER}/ itself: give the folder above it)"
        raise DataError(
            f"{key} = {str(directory)!r} has no {CIFAR10_FOLDER}/ folder{hint}: {expected}"
        )
    return root


def check_imagenet_dir(directory: str | os.PathLike | None, key: str = "imagenet.dir") -> Path:
    """Return `directory` as a Path if it holds ImageNet's train/ and val/ in ImageFolder layout."""
    if directory is None:
        raise DataError(f"{key} is not set: {IMAGENET_LAYOUT}")
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{key} = {str(directory)!r} is not a directory: {IMAGENET_LAYOUT}")
    for split in ("train", "val"):
        folder = root / split
        if not folder.is_dir():
            raise DataError(f"{key} = {str(directory)!r} has no {split}/ folder: {IMAGENET_LAYOUT}")
        if not class_folders(folder):
            loose = any(entry.is_file() for entry in os.scandir(folder))
            hint = " (its images must be sorted into class subfolders)" if loose else ""
            raise DataError(
                f"{key} = {str(directory)!r}: {split}/ has no class subfolders{hint}: "
                f"{IMAGENET_LAYOUT}"
            )
    return root
