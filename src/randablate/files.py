"""Writing result files so that a killed job never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`, renamed onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def load_checkpoint_npz(
    path: str | os.PathLike, expected: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray] | None:
    """Arrays of an .npz checkpoint whose `expected` entries all match, else None."""
    path = Path(path)
    if not path.exists():
        return None
    with np.load(path) as blob:
        data = {name: blob[name] for name in blob.files}
    for name, value in expected.items():
        if name not in data or not np.array_equal(data[name], value):
            return None
    return data


def discard_if_older(path: str | os.PathLike, reference: str | os.PathLike) -> bool:
    """Delete `path` if it predates `reference` (a checkpoint of an older model); True if so."""
    path = Path(path)
    if path.exists() and path.stat().st_mtime < Path(reference).stat().st_mtime:
        path.unlink()
        return True
    return False
