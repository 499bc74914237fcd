"""CIFAR-10: torchvision's CIFAR10 reads the python pickles and checks every batch file's md5."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from randablate.datasets import CIFAR10_FOLDER, DataError

from .fetching import check_split, md5_problems, summary, torchvision_download

if TYPE_CHECKING:
    import torchvision

CIFAR10_HOW_TO = (
    "To get it, either set `cifar10.dir` in config/config.yaml to a directory holding "
    f"{CIFAR10_FOLDER}/ (the python version of CIFAR-10 from the CIFAR-10 home page, unpacked), "
    "or set `cifar10.download: true` to let torchvision download it."
)
_URL = re.compile(r"\w+://\S+")


def _cifar10_problems(directory: Path) -> list[str]:
    """Describe every CIFAR-10 file under `directory` that is missing or fails torchvision's md5."""
    from torchvision.datasets import CIFAR10

    meta = (CIFAR10.meta["filename"], CIFAR10.meta["md5"])
    expected = [*CIFAR10.train_list, *CIFAR10.test_list, meta]
    folder = directory / CIFAR10_FOLDER
    if not folder.is_dir():
        hint = ""
        if (directory / "data_batch_1").is_file():
            hint = f" ({directory} looks like {CIFAR10_FOLDER}/ itself: give the folder above it)"
        return [f"{folder}: no such directory{hint}"]
    return md5_problems(folder, expected)


def _cifar10_error(directory: Path, reason: str | None = None) -> DataError:
    """Build the DataError for CIFAR-10 that is missing or corrupted in `directory`."""
    lines = [f"CIFAR-10 not found or corrupted: searched {directory / CIFAR10_FOLDER}"]
    lines += [f"  {problem}" for problem in _cifar10_problems(directory)]
    if reason is not None:
        lines.append(f"  download failed: {reason}")
    lines.append(CIFAR10_HOW_TO)
    return DataError("\n".join(lines))


def _open_cifar10(directory: Path, train: bool) -> torchvision.datasets.CIFAR10:
    """Return torchvision's CIFAR10 for one split, turning a failed md5 check into DataError."""
    from torchvision.datasets import CIFAR10

    try:
        return CIFAR10(root=str(directory), train=train, download=False)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
        raise _cifar10_error(directory) from e


def ensure_cifar10(
    directory: str | os.PathLike,
    download: bool = False,
    log: logging.Logger | None = None,
) -> Path:
    """Make `directory` (a torchvision root) hold md5-verified CIFAR-10, downloading if allowed."""
    directory = Path(directory)
    if not _cifar10_problems(directory):
        if log is not None:
            log.info("CIFAR-10: verified files already in %s", directory / CIFAR10_FOLDER)
        return directory
    if not download:
        raise _cifar10_error(directory)
    from torchvision.datasets import CIFAR10

    try:
        with torchvision_download():
            CIFAR10(root=str(directory), train=False, download=True)
    except Exception as e:
        reason = _URL.sub("<url>", summary(e))  # name no host in the message
        if log is not None:
            log.info("CIFAR-10: download failed: %s", reason)
        raise _cifar10_error(directory, reason) from e
    if _cifar10_problems(directory):
        raise _cifar10_error(directory, "the downloaded files failed the md5 check")
    if log is not None:
        log.info("CIFAR-10: downloaded verified files into %s", directory / CIFAR10_FOLDER)
    return directory


def load_cifar10(directory: str | os.PathLike, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return verified CIFAR-10 `split` ("train"/"test"): images (N,3,32,32) in [0,1] and labels."""
    check_split(split)
    dataset = _open_cifar10(Path(directory), train=split == "train")
    images = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))
    x = images.to(torch.float32).div_(255.0)
    y = torch.tensor(dataset.targets, dtype=torch.int64)
    return x, y
