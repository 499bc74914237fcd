"""Fault injection for tests: a job kills itself (SIGKILL) at a named point when asked to.

Set RANDABLATE_FAILPOINT=<name>:<count> in a job's environment, e.g. "train-epoch:1" (right after
the checkpoint of epoch 1), "votes-group:1" (after the first checkpointed group of images) or
"attack-image:1" (after the first checkpointed attacked image) or "attack-start:1" (after the
first checkpointed start of an image), to
test that rerunning the same command resumes from the checkpoint. Unset, this does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "RANDABLATE_FAILPOINT"


def failpoint(name: str, count: int) -> None:
    """SIGKILL this process if RANDABLATE_FAILPOINT lists "<name>:<count>" (comma-separated)."""
    if f"{name}:{count}" in os.environ.get(ENV, "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)
