"""What made a result: the git commit, package versions, hardware and the config."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Mapping
from typing import Any

PACKAGES = ("torch", "torchvision", "numpy", "scipy", "pandas", "matplotlib", "snakemake")


def git_commit(repo: str | os.PathLike) -> str:
    """Return the commit checked out in `repo` (with "-dirty" for uncommitted changes)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("-dirty" if dirty else "")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Return the installed version of each package ("not installed" where absent)."""
    versions = {}
    for name in (*names, "randablate"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def hardware() -> dict[str, Any]:
    """Describe the CPU and the CUDA devices torch sees."""
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
    }
    try:
        import torch

        info["cuda_devices"] = [
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        ]
    except ImportError:
        info["cuda_devices"] = "torch not installed"
    return info


def model_provenance(
    repo: str | os.PathLike, *, device: object = None, source: str | None = None
) -> dict[str, Any]:
    """The provenance a model is saved with: code and packages, and where the model came from.

    A model trained here names its `device` (with the hardware); one imported names its `source`.
    """
    if (device is None) == (source is None):
        raise ValueError(
            "a model's provenance names either the device that trained it or its source"
        )
    record: dict[str, Any] = {"git_commit": git_commit(repo), "packages": package_versions()}
    if device is not None:
        record.update(hardware=hardware(), device=str(device))
    else:
        record["source"] = source
    return record


def collect(config: Mapping[str, Any], repo: str | os.PathLike) -> dict[str, Any]:
    """Return the provenance record of a run with `config` from the checkout at `repo`."""
    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(repo),
        "python": platform.python_version(),
        "packages": package_versions(),
        "hardware": hardware(),
        "seed": config.get("seed"),
        "seeds": "every random draw derives its seed from `seed` and the item's identity "
        "(randablate.seeding.derive_seed): training per (dataset, encoding, arch, k) and epoch, "
        "vote counting per (k, sampling stage, image index)",
        "config": dict(config),
    }
