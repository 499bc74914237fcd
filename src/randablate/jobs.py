"""The frame of every pipeline job: its log file and its failure, logged before it propagates."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, NamedTuple

from .devices import DeviceGrant

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


class Job(NamedTuple):
    """What a computing job's script unpacks: the rule's params, wildcards, log and device."""

    params: Any
    wildcards: Any
    log: logging.Logger
    grant: DeviceGrant


@contextlib.contextmanager
def computing_job(snakemake: Any, failure: str) -> Iterator[Job]:
    """`job_log` for a job on a granted device, with torch's threads set to the rule's.

    The grant is the params' `lock_dir` and `jobs_per_gpu` (1 where the rule sets none).
    """
    import torch  # here, so that the rest of the module stays torch-free

    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    grant = DeviceGrant(p.lock_dir, getattr(p, "jobs_per_gpu", 1))
    with job_log(snakemake, failure) as log:
        yield Job(p, snakemake.wildcards, log, grant)
