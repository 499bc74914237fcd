"""randablate.names: each name the library and the workflow share is spelled once, and imported."""

from __future__ import annotations

import re

import pytest
from conftest import REPO, holds_unless_planted

from randablate import encoding, names, reference, tables

# A retyped fact: the encodings, stages or precisions spelled as a tuple or list of literals, a
# cell's row label, or the paper's directory.
RETYPED = {
    "encodings": r"""[(\[]\s*["']multichannel["'],\s*["']mean["'],?\s*[)\]]""",
    "stages": r"""[(\[]\s*["']select["'],\s*["']bound["'],\s*["']predict["'],?\s*[)\]]""",
    "precisions": r"""[(\[{]\s*["']fp32["'](:[^,]*)?,\s*["']bf16["']""",
    "row labels": r"""["']k=\{k\}["']|\{dataset\} k=""",
    "paper directory": r"""["']resources["']\s*/\s*["']paper|["']resources/paper""",
}
# Where each fact has its one home; benchmarks and tests may spell values out.
HOMES = {"src/randablate/names.py", "src/randablate/tables.py"}
# Still retyped in the rules, until they import the names (issue 23: the rules are rewritten
# beside this change); empty this as they do.
PENDING: list[tuple[str, str]] = []


def retyped(files: dict[str, str]) -> list[tuple[str, str]]:
    """(file, fact) for each fact a file spells out instead of importing it."""
    return [
        (name, fact)
        for name, text in files.items()
        if name not in HOMES
        for fact, pattern in RETYPED.items()
        if re.search(pattern, text)
    ]


def library_and_workflow() -> dict[str, str]:
    """The library's modules and the workflow's rules and scripts, by path from the root."""
    paths = [REPO / name for name in ("Snakefile", "workflow/Snakefile") if (REPO / name).exists()]
    paths += [*REPO.glob("src/randablate/**/*.py"), *REPO.glob("workflow/rules/*.smk")]
    paths += REPO.glob("workflow/scripts/*.py")
    return {str(path.relative_to(REPO)): path.read_text() for path in paths}


def check_nothing_retyped(files: dict[str, str]) -> None:
    assert sorted(retyped(files)) == PENDING


@pytest.mark.parametrize("planted", [None, "encodings", "stages", "precisions", "row", "paper"])
def test_the_library_and_the_scripts_import_each_fact_from_its_home(planted):
    files = library_and_workflow()
    assert {"workflow/scripts/reference_export.py", "workflow/rules/common.smk"} <= set(files)
    assert len(files) > 70
    plants = {
        "encodings": 'for e in ("multichannel", "mean"):',
        "stages": "STAGES = ['select', 'bound', 'predict']",
        "precisions": 'DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}',
        "row": 'row = f"k={p.k}" if False else "k={k}"',
        "paper": 'PAPER = Path(workflow.basedir) / "resources" / "paper"',
    }
    if planted:
        files["workflow/scripts/planted.py"] = plants[planted]
    holds_unless_planted(planted, check_nothing_retyped, files)


def test_the_modules_re_export_the_one_home():
    assert encoding.ENCODINGS is names.ENCODINGS == ("multichannel", "mean")
    assert tables.STAGES is reference.STAGES is names.STAGES == ("select", "bound", "predict")
    assert (REPO / names.PAPER_DIR / "table1_mnist_certificates.csv").is_file()


def test_a_precision_outside_precisions_is_refused_naming_them():
    assert [names.check_precision(p) for p in names.PRECISIONS] == ["fp32", "bf16"]
    with pytest.raises(
        ValueError, match=r"precision must be one of \['fp32', 'bf16'\], got 'fp16'"
    ):
        names.check_precision("fp16")
