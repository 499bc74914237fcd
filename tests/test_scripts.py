"""Every job script in workflow/scripts/ is a thin wrapper: the library holds each job's glue."""

from __future__ import annotations

import ast
import io
import textwrap
import tokenize

import pytest
from conftest import REPO

SCRIPTS = REPO / "workflow" / "scripts"
MAX_CODE_LINES = 30
# Scripts another part of issue 23 makes thin; strict, so that each fails once it is thin and
# its entry is due for removal.
PENDING: dict[str, str] = {}
NOT_CODE = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
}


def docstring_lines(tree: ast.Module) -> set[int]:
    """The lines of the module's, classes' and functions' docstrings."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        if isinstance(node, owners) and ast.get_docstring(node, clean=False) is not None:
            first = node.body[0]
            lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def code_lines(source: str) -> int:
    """Lines that hold code: neither blank, nor only a comment, nor part of a docstring."""
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in NOT_CODE:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstring_lines(ast.parse(source)))


SAMPLE = textwrap.dedent(
    '''\
    """A module docstring
    over two lines."""

    import os  # a comment after code

    # a comment alone


    def f(x):
        """A docstring."""
        text = """a string that is
    no docstring"""
        return call(
            x,  # each line of a call is code
            text,
        )


    class C:
        """One more,
        over two lines."""

        y = 1 + \\
            2
    '''
)


def test_code_lines_counts_code_not_docstrings_comments_or_blank_lines():
    # import, def, text = (2 lines), return call( (4 lines), class, y = (2 lines)
    assert code_lines(SAMPLE) == 1 + 1 + 2 + 4 + 1 + 2
    assert code_lines('"""Only a docstring."""\n\n# and a comment\n') == 0
    assert code_lines("x = 1\n") == 1


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(path, marks=pytest.mark.xfail(strict=True, reason=PENDING[path.name]))
        if path.name in PENDING
        else path
        for path in sorted(SCRIPTS.glob("*.py"))
    ],
    ids=lambda path: path.name,
)
def test_every_script_is_a_wrapper_of_at_most_30_code_lines(script):
    lines = code_lines(script.read_text())
    assert lines <= MAX_CODE_LINES, (
        f"{script.relative_to(REPO)} has {lines} lines of code; a job script unpacks `snakemake`"
        f" and calls the library in at most {MAX_CODE_LINES}"
    )


def test_the_scripts_are_there():
    assert len(list(SCRIPTS.glob("*.py"))) >= 30
    assert set(PENDING) <= {path.name for path in SCRIPTS.glob("*.py")}
