"""The authors' released checkpoints (alevine0/randomizedAblation, checkpoints/): names, files.

Light (no torch), so that the workflow can find the files when it parses; loading them is
`randablate.models.load_authors_checkpoint`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

# Their architecture per data set, by our name.
AUTHORS_ARCHS = {
    "mnist": ("cnn",),
    "cifar10": ("resnet18", "resnet50"),
    "imagenet": ("imagenet_resnet50",),
}
# Their mean encoding's NULL: the constants in utils_mean.py (MNIST) and utils_color_mean.py
# (CIFAR-10), the usual dataset channel means, not recomputed from the training images.
AUTHORS_NULL_MEANS = {"mnist": [0.1307], "cifar10": [0.4914, 0.4822, 0.4465]}
# Their file names: <mnist|cifar|imagenet>[_mean|_plain]_lr_..._[model_<arch>_]keep_<k>_epoch_...
_AUTHORS_NAME = re.compile(r"^(mnist|cifar|imagenet)(_mean|_plain)?_lr_")
_AUTHORS_DATASETS = {"mnist": "mnist", "cifar": "cifar10", "imagenet": "imagenet"}


def authors_checkpoint_name(path: str | os.PathLike) -> dict[str, Any] | None:
    """Dataset, encoding, arch and k that an authors' checkpoint name gives (None: not theirs)."""
    name = Path(path).name
    match = _AUTHORS_NAME.match(name)
    ks = set(re.findall(r"_keep_(\d+)_", name))
    if match is None or not name.endswith(".pth") or len(ks) != 1:
        return None
    dataset = _AUTHORS_DATASETS[match[1]]
    models = set(re.findall(r"_model_([a-z0-9]+)_", name))
    if len(models) > 1:
        return None
    arch = AUTHORS_ARCHS[dataset][0]
    if models:
        arch = "imagenet_" + models.pop() if dataset == "imagenet" else models.pop()
    return {
        "dataset": dataset,
        "encoding": "mean" if match[2] == "_mean" else "multichannel",
        "arch": arch,
        "k": int(ks.pop()),
    }


def find_authors_checkpoints(directory: str | os.PathLike) -> dict[tuple[str, str, str, int], Path]:
    """Map (dataset, encoding, arch, k) to the authors' checkpoint files in `directory`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no directory {directory} of the authors' checkpoints")
    found: dict[tuple[str, str, str, int], Path] = {}
    for path in sorted(directory.iterdir()):
        parsed = authors_checkpoint_name(path) if path.is_file() else None
        if parsed is None:
            continue
        key = (parsed["dataset"], parsed["encoding"], parsed["arch"], parsed["k"])
        if key in found:
            raise ValueError(
                f"{found[key]} and {path} are both the authors' {key[0]} {key[1]} {key[2]} "
                f"model for k={key[3]}; keep one of them in {directory}"
            )
        found[key] = path
    return found
