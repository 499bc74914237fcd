"""The frame of every pipeline script: its log file and its failure."""

import logging
from types import SimpleNamespace

import pytest

from randablate.jobs import job_log


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
