"""The frame of every pipeline job: its log file and its failure, logged before it propagates."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

LOG_FORMAT = "%(asctime)s %(message)s"


@contextlib.contextmanager
def job_log(snakemake: Any, failure: str) -> Iterator[logging.Logger]:
    """Log to the rule's log file; on an exception log `failure` with the traceback and re-raise."""
    logging.basicConfig(
        filename=snakemake.log[0], filemode="w", level=logging.INFO, format=LOG_FORMAT, force=True
    )
    log = logging.getLogger(snakemake.rule)
    try:
        yield log
    except Exception:
        log.exception(failure)
        raise
