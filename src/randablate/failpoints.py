"""Fault injection for tests: a job kills itself (SIGKILL) at a named point when asked to.

Set RANDABLATE_FAILPOINT=<name>:<count> in a job's environment, e.g. "train-epoch:1" (right after
the checkpoint of epoch 1) or "votes-group:1" (after the first checkpointed group of images), to
test that rerunning the same command resumes from the checkpoint. Unset, this does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "RANDABLATE_FAILPOINT"


def failpoint(name: str, count: int) -> None:
    """SIGKILL this process if RANDABLATE_FAILPOINT is "<name>:<count>"."""
    if os.environ.get(ENV) == f"{name}:{count}":
        os.kill(os.getpid(), signal.SIGKILL)
