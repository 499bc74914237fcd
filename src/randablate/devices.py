"""Which device a pipeline job computes on: the CPU, the GPU a scheduler gave it, or a free GPU."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEFAULT_LOCK_DIR = Path(".snakemake") / "gpu-locks"


def default_device() -> torch.device:
    """The device used where none is named: CUDA when present, else the CPU (one rule for all)."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cuda_device_count() -> int:
    """Return the number of CUDA devices torch can use (0 when CUDA is absent)."""
    import torch  # imported lazily so that the locking logic is testable without torch's start-up

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def visible_ids(env: Mapping[str, str], count: int) -> list[str]:
    """Return the physical ids of the `count` devices torch numbers 0..count-1 under `env`."""
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(i) for i in range(count)]
    ids = [part.strip() for part in listed.split(",") if part.strip()]
    return ids[:count]


def _try_lock(path: Path) -> int | None:
    """Open and exclusively lock `path` without blocking; return the descriptor, None if held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def acquire_device(
    lock_dir: str | os.PathLike = DEFAULT_LOCK_DIR,
    log: logging.Logger | None = None,
    device_count: Callable[[], int] = cuda_device_count,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 24 * 3600.0,
    poll_s: float = 5.0,
    jobs_per_gpu: int = 1,
) -> Iterator[str]:
    """Yield the device a job should use ("cpu" or "cuda:i"), holding a lock on it until exit.

    Without CUDA: "cpu". With CUDA_VISIBLE_DEVICES naming exactly one device (a scheduler's
    choice): "cuda:0", as is. Otherwise a free one of `jobs_per_gpu` slots of each device, each
    a lock file in `lock_dir` locked exclusively (fcntl.flock), the first slot of every device
    before the second of any (jobs spread over the devices); waits (polling) while all are
    taken, up to `timeout_s`. Slot 0 of device i is gpu-i.lock, slot s > 0 gpu-i.s.lock.
    """
    if jobs_per_gpu < 1:
        raise ValueError(f"jobs_per_gpu must be >= 1, got {jobs_per_gpu}")
    env = os.environ if env is None else env
    count = device_count()
    if count == 0:
        _report(log, "cpu", "no CUDA device available")
        yield "cpu"
        return
    ids = visible_ids(env, count)
    if "CUDA_VISIBLE_DEVICES" in env and len(ids) == 1:
        _report(log, "cuda:0", f"CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']} (one device)")
        yield "cuda:0"
        return
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    slots = [
        (index, physical, slot)
        for slot in range(jobs_per_gpu)
        for index, physical in enumerate(ids)
    ]
    while True:
        for index, physical, slot in slots:
            lock_path = lock_dir / (
                f"gpu-{physical}.lock" if slot == 0 else f"gpu-{physical}.{slot}.lock"
            )
            fd = _try_lock(lock_path)
            if fd is None:
                continue
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                why = (
                    f"physical GPU {physical}, slot {slot + 1} of {jobs_per_gpu}, lock {lock_path}"
                )
                _report(log, f"cuda:{index}", why)
                yield f"cuda:{index}"
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"no free GPU slot among {ids} x {jobs_per_gpu} (locks in {lock_dir}) after "
                f"{timeout_s:.0f} s; give snakemake --resources gpu=N with N at most the number "
                "of GPUs times compute.jobs_per_gpu"
            )
        time.sleep(poll_s)


@dataclass(frozen=True)
class DeviceGrant:
    """Where a pipeline job takes its device from: the GPU lock files' folder, jobs a GPU."""

    lock_dir: str | os.PathLike = DEFAULT_LOCK_DIR
    jobs_per_gpu: int = 1

    def acquire(self, log: logging.Logger | None = None) -> contextlib.AbstractContextManager[str]:
        """The device `acquire_device` grants under these locks, held until the block exits."""
        return acquire_device(self.lock_dir, log=log, jobs_per_gpu=self.jobs_per_gpu)


def _report(log: logging.Logger | None, device: str, why: str) -> None:
    """Write the chosen device and the reason to the job's log."""
    if log is not None:
        log.info("device: %s (%s)", device, why)
