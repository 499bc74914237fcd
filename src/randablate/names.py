"""The names that the library, the workflow and the config share, each spelled here once.

Torch-free (the standard library only), so that the workflow's rules import it at parse time. The
library's modules take their names from here (`encoding` re-exports ENCODINGS, `tables` STAGES;
`smoothing`, `training`, `partition` and `cli` check PRECISIONS); the config schema cannot import,
so tests/test_config.py checks its enums against these.
"""

from __future__ import annotations

__all__ = ["ENCODINGS", "PAPER_DIR", "PRECISIONS", "STAGES", "check_precision"]

# The NULL encodings of an ablated pixel (randablate.encoding): the paper's, then the mean's.
ENCODINGS: tuple[str, ...] = ("multichannel", "mean")

# An image's vote stages (votes files hold counts_<stage>, certificate CSVs <stage>_<class>):
# n0 samples select the class, n bound its probability, n_predict make the prediction.
STAGES: tuple[str, ...] = ("select", "bound", "predict")

# The arithmetic of a base classifier: float32, or bfloat16 (autocast in training, the weights'
# dtype when counting votes).
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")

# The paper's printed tables and constants, relative to the repository's root.
PAPER_DIR = "resources/paper"


def check_precision(precision: str) -> str:
    """Return `precision` if it is one of PRECISIONS, else raise ValueError naming them."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return precision
