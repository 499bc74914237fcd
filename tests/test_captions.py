"""The captions' scale lines: the departures a config lists appear at the paper's scale too."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import jinja2
import pytest
import yaml
from conftest import CONFIG, REPO

PAPER = yaml.safe_load((REPO / CONFIG).read_text())
GPU = yaml.safe_load((REPO / "profiles/gpu/overrides.yaml").read_text())
CAPTIONS = ("table1.rst", "table8.rst", "certified_accuracy.rst", "workflow.rst")


def render(name: str, config: dict) -> str:
    """The caption `name` as Snakemake's report renders it, for MNIST's results."""
    text = (REPO / "workflow/report" / name).read_text()
    job = SimpleNamespace(config=config, wildcards=SimpleNamespace(dataset="mnist"))
    return jinja2.Template(text).render(snakemake=job)


@pytest.mark.parametrize("name", CAPTIONS)
def test_a_paper_scale_run_names_its_departures(name):
    plain = render(name, PAPER)
    assert "except" not in plain and "departures" not in plain
    config = copy.deepcopy(PAPER)
    config["departures"] = GPU["departures"]
    caption = render(name, config)
    assert GPU["departures"][0] in caption
    assert "except" in caption or "with these\ndepartures" in caption
