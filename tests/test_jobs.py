"""The frame of every pipeline script: its log file and its failure (and a job's device)."""

import logging
from types import SimpleNamespace

import pytest
import torch

from randablate.devices import DeviceGrant
from randablate.jobs import computing_job, job_log


@pytest.fixture
def root_logger():
    """Give back the root logger's handlers and level (job_log replaces them, as a job does)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def test_job_log_writes_the_rules_log_and_logs_a_failure_before_it_propagates(
    tmp_path, root_logger
):
    log_file = tmp_path / "logs/table9.log"
    log_file.parent.mkdir()
    snakemake = SimpleNamespace(log=[str(log_file)], rule="table9")
    with job_log(snakemake, "building Table 9 failed") as log:
        log.info("first line")
    with pytest.raises(ZeroDivisionError), job_log(snakemake, "building Table 9 failed") as log:
        log.info("second run")
        _ = 1 / 0
    text = log_file.read_text()
    assert "first line" not in text  # each job starts its log afresh
    assert "second run" in text and "building Table 9 failed" in text
    assert "ZeroDivisionError" in text  # with the traceback
    assert log.name == "table9"


@pytest.mark.parametrize(
    ("params", "jobs_per_gpu"),
    [({"lock_dir": "locks", "jobs_per_gpu": 3}, 3), ({"lock_dir": "locks"}, 1)],
    ids=["shared GPUs", "one job a GPU"],
)
def test_a_computing_job_sets_the_threads_and_grants_the_rules_device(
    tmp_path, root_logger, params, jobs_per_gpu
):
    log_file = tmp_path / "train.log"
    wildcards = SimpleNamespace(k="30")
    snakemake = SimpleNamespace(
        log=[str(log_file)],
        rule="train",
        threads=1,
        params=SimpleNamespace(**params),
        wildcards=wildcards,
    )
    threads = torch.get_num_threads()
    try:
        with computing_job(snakemake, "training failed") as (p, wc, log, grant):
            assert torch.get_num_threads() == 1
            assert (p, wc, log.name) == (snakemake.params, wildcards, "train")
            assert grant == DeviceGrant("locks", jobs_per_gpu)
            log.info("inside")
        with pytest.raises(KeyError), computing_job(snakemake, "training failed"):
            raise KeyError("k")
    finally:
        torch.set_num_threads(threads)
    assert "inside" not in log_file.read_text()  # the second run started the log afresh
    assert "training failed" in log_file.read_text()
