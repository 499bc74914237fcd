"""workflow/envs/'s conda envs pin versions that pyproject.toml allows, and every dependency."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from conftest import REPO
from packaging.requirements import Requirement

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
ENVS = sorted((REPO / "workflow/envs").glob("*.yaml"))


def requirements() -> dict[str, Requirement]:
    """Every requirement of pyproject.toml (base and extras), by normalised name."""
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return {r.name.lower().replace("_", "-"): r for r in reqs}


def pins(env: dict) -> dict[str, str]:
    """The name==version pins of a conda env file (conda and pip sections)."""
    found = {}
    for dep in env["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==?\s*([0-9][^\s]*)", item)
            if match:
                found[match[1].lower().replace("_", "-")] = match[2]
    return found


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_pins_are_allowed_by_pyproject(path):
    env = yaml.safe_load(path.read_text())
    found = pins(env)
    assert "python" in found, f"{path.name} does not pin python"
    assert found["python"].startswith("3.11")
    reqs = requirements()
    for name, version in found.items():
        if name in reqs:
            assert reqs[name].specifier.contains(version), (path.name, name, version)


def test_torch_env_pins_every_runtime_dependency():
    found = pins(yaml.safe_load((REPO / "workflow/envs/torch.yaml").read_text()))
    for req in PYPROJECT["project"]["dependencies"]:
        name = Requirement(req).name.lower()
        assert name in found, f"workflow/envs/torch.yaml does not pin {name}"


def test_every_rule_names_an_existing_env():
    rules = (REPO / "workflow/rules").glob("*.smk")
    named = {m for p in rules for m in re.findall(r'conda:\s*"\.\./(envs/[^"]+)"', p.read_text())}
    assert named, "no rule names a conda env"
    for env in named:
        assert (REPO / "workflow" / env).is_file(), env
