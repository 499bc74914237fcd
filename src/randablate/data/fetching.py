"""What the data sets' acquisition shares: md5 checks, quiet torchvision downloads, messages."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

from randablate.datasets import DataError

SPLIT_NAMES = ("train", "test")
TORCHVISION_TIMEOUT_S = 20


def check_split(split: str) -> None:
    """Raise ValueError unless `split` is "train" or "test"."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {sorted(SPLIT_NAMES)}, got {split!r}")


def md5sum(path: str | os.PathLike) -> str:
    """Return the hex md5 digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


@contextlib.contextmanager
def torchvision_download() -> Iterator[None]:
    """Run a torchvision download with a socket timeout and its progress output swallowed."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TORCHVISION_TIMEOUT_S)
    try:
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        socket.setdefaulttimeout(previous)


def summary(exc: BaseException) -> str:
    """Return an exception's message on one line, shortened."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, DataError):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= 1000 else text[:997] + "..."
