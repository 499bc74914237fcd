"""A model's provenance, one builder for a model trained here and one imported."""

from __future__ import annotations

import subprocess

import pytest

from randablate import provenance
from randablate.provenance import model_provenance


def test_a_trained_model_names_its_device_and_hardware(tmp_path):
    record = model_provenance(tmp_path, device="cuda:1")
    assert list(record) == ["git_commit", "packages", "hardware", "device"]
    assert record["git_commit"] == "unknown (not a git checkout)"
    assert record["device"] == "cuda:1"
    assert record["hardware"]["cpu_count"] >= 1
    assert record["packages"]["numpy"] == __import__("numpy").__version__


def test_an_imported_model_names_its_source_not_a_device(tmp_path):
    record = model_provenance(tmp_path, source="the authors' released checkpoint a.pth")
    assert list(record) == ["git_commit", "packages", "source"]
    assert record["source"] == "the authors' released checkpoint a.pth"


def test_the_commit_is_the_checkout_s_and_marks_uncommitted_changes(tmp_path):
    def git(*args: str) -> str:
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
        return subprocess.run(command, cwd=tmp_path, check=True, capture_output=True).stdout

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    head = git("rev-parse", "HEAD").decode().strip()
    assert model_provenance(tmp_path, device="cpu")["git_commit"] == head
    (tmp_path / "a.txt").write_text("two")
    assert model_provenance(tmp_path, device="cpu")["git_commit"] == head + "-dirty"
    assert provenance.git_commit(tmp_path) == head + "-dirty"


@pytest.mark.parametrize("where", [{}, {"device": "cpu", "source": "a.pth"}])
def test_a_model_comes_from_a_device_or_a_source_not_both_nor_neither(tmp_path, where):
    with pytest.raises(ValueError, match="either the device that trained it or its source"):
        model_provenance(tmp_path, **where)
