"""Result files: atomic writes, .npz loading, resumable .npz results, shard merging, CSV tables.

A killed job never leaves a half-written output behind: every file is written beside its target
and renamed onto it only once complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from gzip import GzipFile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .failpoints import failpoint

if TYPE_CHECKING:
    import pandas as pd


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
        # mkstemp's file is private (0600): give the result the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an .npz file, loaded into memory, in the file's order."""
    with np.load(path) as blob:
        return {name: blob[name] for name in blob.files}


def save_npz(
    path: str | os.PathLike, arrays: Mapping[str, np.ndarray], compressed: bool = False
) -> None:
    """Write `arrays` (in their order) to an .npz file atomically, compressed if asked."""
    save = np.savez_compressed if compressed else np.savez
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        save(fh, **arrays)


def load_checkpoint_npz(
    path: str | os.PathLike, expected: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray] | None:
    """Arrays of an .npz checkpoint whose `expected` entries all match, else None."""
    path = Path(path)
    if not path.exists():
        return None
    data = load_npz(path)
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


class ResumableNpz:
    """An .npz result built up item by item, with a checkpoint from which a killed job resumes.

    The result holds the job's `header` (arrays that identify the job), then its rows, compressed.
    The checkpoint holds any progress arrays, `checkpoint_header` (identifying arrays kept in the
    checkpoint only), the header and the rows so far, uncompressed; it is resumed from only when
    both headers match. Each save passes a failpoint (`failpoint_name`, or the save's own) with
    the number of saves at that point so far in this process. Without a checkpoint path nothing
    is checkpointed.
    """

    def __init__(
        self,
        out_path: str | os.PathLike,
        checkpoint_path: str | os.PathLike | None,
        header: Mapping[str, np.ndarray],
        failpoint_name: str,
        checkpoint_header: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.out_path = Path(out_path)
        self.checkpoint = Path(checkpoint_path) if checkpoint_path else None
        self.header = dict(header)
        self.checkpoint_header = dict(checkpoint_header or {})
        self.failpoint_name = failpoint_name
        self.saves: dict[str, int] = {}

    def resume(self) -> dict[str, np.ndarray] | None:
        """The arrays of this job's checkpoint; None without one (or one of another job)."""
        if self.checkpoint is None:
            return None
        return load_checkpoint_npz(self.checkpoint, {**self.header, **self.checkpoint_header})

    def save(
        self, rows: Mapping[str, np.ndarray], point: str | None = None, **progress: np.ndarray
    ) -> None:
        """Checkpoint the rows so far (and `progress`), then pass the failpoint (or `point`)."""
        if self.checkpoint is None:
            return
        save_npz(self.checkpoint, {**progress, **self.checkpoint_header, **self.header, **rows})
        name = point or self.failpoint_name
        self.saves[name] = self.saves.get(name, 0) + 1
        failpoint(name, self.saves[name])

    def finish(self, rows: Mapping[str, np.ndarray]) -> None:
        """Write the result (the header and every row, compressed) and delete the checkpoint."""
        save_npz(self.out_path, {**self.header, **rows}, compressed=True)
        if self.checkpoint is not None and self.checkpoint.exists():
            self.checkpoint.unlink()


def merge_shards(paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> int:
    """Concatenate .npz shards (sorted by image index) into one .npz; return the image count.

    Arrays with a first axis are per image and concatenated; scalars (the job's settings) must
    agree across the shards and are kept once.
    """
    shards = [load_npz(p) for p in paths]
    if not shards:
        raise ValueError("no shards to merge")
    per_image = [name for name, arr in shards[0].items() if arr.ndim >= 1]
    scalars = [name for name, arr in shards[0].items() if arr.ndim == 0]
    for path, shard in zip(paths, shards, strict=True):
        if set(shard) != set(shards[0]):
            raise ValueError(f"{path}: arrays {sorted(shard)} differ from {sorted(shards[0])}")
        for name in scalars:
            if shard[name] != shards[0][name]:
                raise ValueError(f"{path}: {name}={shard[name]} differs from {shards[0][name]}")
    merged = {name: np.concatenate([s[name] for s in shards]) for name in per_image}
    order = np.argsort(merged["index"], kind="stable")
    if np.any(np.diff(merged["index"][order]) == 0):
        raise ValueError("shards overlap: an image index occurs twice")
    merged = {name: arr[order] for name, arr in merged.items()}
    merged.update({name: shards[0][name] for name in scalars})
    save_npz(out_path, merged)
    return len(order)


def write_csv(table: pd.DataFrame, path: str | os.PathLike, gzip: bool = False) -> None:
    """Write a table atomically; missing values as "NA", infinities as "inf"/"-inf".

    With `gzip`, compressed with a fixed timestamp and the file's own name in the gzip header,
    so that equal tables give equal files.
    """
    options = {"index": False, "na_rep": "NA", "float_format": "%.10g"}
    with atomic_path(path) as tmp:
        if gzip:
            with (
                open(tmp, "wb") as raw,
                GzipFile(filename=Path(path).name, mode="wb", fileobj=raw, mtime=0) as out,
            ):
                table.to_csv(out, **options)
        else:
            table.to_csv(tmp, **options)
