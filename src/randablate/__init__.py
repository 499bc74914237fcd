"""Robustness certificates for sparse adversarial attacks by randomized ablation.

    from randablate import Smoothed, load_smoothed, certified_radius

The names below are imported on first use, so that `import randablate.datasets` (the workflow's
torch-free facts) does not start torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.2"

_EXPORTS = {
    "Smoothed": "randablate.smoothing",
    "Certificate": "randablate.smoothing",
    "load_smoothed": "randablate.smoothing",
    "count_votes": "randablate.smoothing",
    "certified_radius": "randablate.certificates",
    "certify_from_counts": "randablate.certificates",
    "certify_joint": "randablate.certificates",
    "certify_topk": "randablate.certificates",
    "predict_from_counts": "randablate.certificates",
    "get_encoding": "randablate.encoding",
    "build_model": "randablate.models",
    "load_model": "randablate.models",
    "save_model": "randablate.models",
    "train": "randablate.training",
    "TrainSettings": "randablate.training",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'randablate' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
