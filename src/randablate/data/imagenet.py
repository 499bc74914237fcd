"""ImageNet (ILSVRC2012): a directory with train/ and val/ in torchvision's ImageFolder layout."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from randablate.datasets import DataError, check_imagenet_dir, class_folders

if TYPE_CHECKING:
    import pandas as pd


def _imagenet_val_files(root: Path) -> list[str]:
    """Return val/'s images (paths relative to val/) in ImageFolder's order: class, then name."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    files = []
    for wnid in class_folders(root / "val"):
        names = [
            entry.name
            for entry in os.scandir(root / "val" / wnid)
            if entry.is_file() and entry.name.lower().endswith(IMG_EXTENSIONS)
        ]
        files += [f"{wnid}/{name}" for name in sorted(names)]
    return files


IMAGENET_VAL_IMAGES = 50_000  # ILSVRC2012's validation set, which the authors' list indexes


def read_imagenet_indices(path: str | os.PathLike) -> np.ndarray:
    """Read and check a list of ImageNet validation indices (CSV column val_index), in order."""
    import pandas as pd

    expected = (
        f"a CSV with a val_index column of distinct integers in 0..{IMAGENET_VAL_IMAGES - 1} "
        "(positions in ImageFolder's sorted validation set)"
    )
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read ImageNet index list {path}: {e}; expected {expected}") from e
    if "val_index" not in table.columns or len(table) == 0:
        raise DataError(f"{path} has no val_index values; expected {expected}")
    column = table["val_index"]
    if not pd.api.types.is_integer_dtype(column):
        raise DataError(f"{path}: val_index holds non-integer values; expected {expected}")
    indices = column.to_numpy(dtype=np.int64)
    if (
        indices.min() < 0
        or indices.max() >= IMAGENET_VAL_IMAGES
        or len(set(indices)) < len(indices)
    ):
        raise DataError(
            f"{path}: val_index has values out of range or repeated; expected {expected}"
        )
    return indices


def imagenet_eval_subset(
    directory: str | os.PathLike,
    num_images: int,
    seed: int | None = None,
    indices: Sequence[int] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Return the certified ImageNet validation images: a seeded draw, or the listed `indices`.

    Columns: position (0..num_images-1), file (relative to val/), label (the class index
    ImageFolder gives train/: sorted class folder names), wnid and val_index (the file's index in
    the validation set as torchvision's ImageFolder sorts it). With `seed`, the first
    `num_images` entries of a permutation of the sorted val files by numpy's default_rng(seed),
    so a smaller `num_images` gives a prefix of a larger one. With `indices` (the authors' list,
    indices into the full 50,000-image validation set), its first `num_images` entries in order.
    """
    import pandas as pd

    if (seed is None) == (indices is None):
        raise ValueError("imagenet_eval_subset needs exactly one of seed and indices")
    root = check_imagenet_dir(directory)
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    classes = class_folders(root / "train")
    class_to_idx = {wnid: i for i, wnid in enumerate(classes)}
    files = _imagenet_val_files(root)
    unknown = sorted({file.split("/", 1)[0] for file in files} - set(class_to_idx))
    if unknown:
        shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        raise DataError(
            f"{root / 'val'} has {len(unknown)} class folder(s) with images that "
            f"{root / 'train'} lacks, so they have no training label: {shown}"
        )
    if indices is not None:
        order = np.asarray(indices, dtype=np.int64)
        if num_images > len(order):
            raise DataError(
                f"asked for {num_images} validation images but the index list has {len(order)}"
            )
        if len(files) != IMAGENET_VAL_IMAGES:
            raise DataError(
                f"{root / 'val'} holds {len(files)} images; the index list indexes the "
                f"{IMAGENET_VAL_IMAGES} of ILSVRC2012's validation set, so it needs all of them"
            )
        order = order[:num_images]
    else:
        if num_images > len(files):
            raise DataError(
                f"asked for {num_images} validation images but {root / 'val'} holds only "
                f"{len(files)}"
            )
        order = np.random.default_rng(seed).permutation(len(files))[:num_images]
    chosen = [files[i] for i in order]
    wnids = [file.split("/", 1)[0] for file in chosen]
    return pd.DataFrame(
        {
            "position": np.arange(num_images, dtype=np.int64),
            "file": chosen,
            "label": np.array([class_to_idx[w] for w in wnids], dtype=np.int64),
            "wnid": wnids,
            "val_index": np.asarray(order, dtype=np.int64),
        }
    )


def _eval_transform(size: int) -> Callable[..., torch.Tensor]:
    """Return the standard evaluation transform: Resize(256*size//224), CenterCrop(size)."""
    from torchvision import transforms

    return transforms.Compose(
        [transforms.Resize(256 * size // 224), transforms.CenterCrop(size), transforms.ToTensor()]
    )


def load_imagenet_images(
    directory: str | os.PathLike, files: Sequence[str], size: int = 224
) -> torch.Tensor:
    """Return ImageNet val images (`files`, relative to val/) as float (N,3,size,size) in [0,1]."""
    from PIL import Image, UnidentifiedImageError

    transform = _eval_transform(size)
    images = []
    for file in files:
        path = Path(directory) / "val" / file
        try:
            with Image.open(path) as image:
                images.append(transform(image.convert("RGB")))
        except (OSError, UnidentifiedImageError) as e:
            raise DataError(f"cannot read ImageNet image {path}: {e}") from e
    if not images:
        return torch.empty(0, 3, size, size)
    return torch.stack(images)


def imagenet_train_dataset(
    directory: str | os.PathLike, size: int = 224
) -> torch.utils.data.Dataset:
    """Return ImageNet train/ as an augmented (RandomResizedCrop, flip) dataset of [0,1] tensors."""
    from torchvision import datasets, transforms

    root = check_imagenet_dir(directory)
    transform = transforms.Compose(
        [
            transforms.RandomResizedCrop(size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
        ]
    )
    return datasets.ImageFolder(str(root / "train"), transform=transform)
