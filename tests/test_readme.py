"""Every command the README shows runs as written: read from the README itself (its fenced bash
blocks and the commands in its prose), and likewise the commands of the Snakefile's docstring,
`benchmarks/gpu_check.sh`, the profiles' comments and the CLI's docstring.

- each `snakemake` command runs as written, in a copy of the checkout, with `--dry-run` added: it
  must plan its jobs; one that names a data set under /data/ (CIFAR-10, ImageNet, MNIST files of
  your own) may instead stop with the project's error naming that config key, and with nothing
  else, and must plan once that path holds the data set's files;
- each `randablate` command runs on a small model and images that the test writes;
- the `python` blocks run in order, in one namespace, on small inputs that the test writes;
- each `python benchmarks/...` command names a script that defines the options it passes.
Planted bad commands show that each check fails on one."""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, copy_checkout, tiny_config, write_config
from kept_intensity import save_kept_intensity_model, varied_images

LANGUAGES = {"bash", "python", "bibtex"}  # every fenced block's language; another is an error
OTHER_PROGRAMS = {"make", "git", "cd"}  # set-up: a clone, make (CI runs make test itself)
SNAKEMAKE = {"snakemake", ".venv/bin/snakemake"}
# The project's errors for a data set that is not where the config says (key = 'path' ...).
NO_DATA = re.compile(
    r"^\s*DataError: (cifar10|imagenet)\.dir = '(?P<a>[^']+)'"
    r"|invalid config: mnist\.source_dir = '(?P<b>[^']+)'; expected an existing directory",
    flags=re.M,
)
# Exceptions Snakemake may name around the project's own error when a data set is missing.
NO_DATA_WRAPPERS = {"DataError", "ConfigError", "InputFunctionException", "WorkflowError"}
DATA_PLACEHOLDER = re.compile(r"/data/[\w.-]+")
# Creating a report before anything was built: what --report says in a fresh checkout.
NOTHING_BUILT = re.compile(r"File \S+ marked for report but does not exist")


# ---------------------------------------------------------------------------------------------
# Reading the commands


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block of a Markdown text, indented ones dedented."""
    blocks = []
    pattern = r"^(?P<indent>[ \t]*)```(?P<lang>\w*)\n(?P<code>.*?)^(?P=indent)```$"
    for match in re.finditer(pattern, text, re.M | re.S):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["code"].splitlines(keepends=True))
        blocks.append((match["lang"], code))
    return blocks


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script: continuations joined, comments and redirections
    dropped, split at `&&`, `||` and `;`."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)\d?>>?&?\s*(\"[^\"]*\"|\S+)", " ", line)  # >file, 2>&1
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        command: list[str] = []
        for word in [*lexer, ";"]:
            if word in ("&&", "||", ";"):
                if command:
                    commands.append(command)
                command = []
            else:
                command.append(word)
    return commands


def readme_commands() -> list[tuple[str, list[str]]]:
    """(where, command) for every command of the README's bash blocks."""
    found = []
    blocks = fenced_blocks((REPO / "README.md").read_text())
    for number, (language, code) in enumerate(blocks):
        if language == "bash":
            found += [(f"README block {number}", c) for c in shell_commands(code)]
    return found


def readme_inline_spans() -> list[str]:
    """The README's inline code spans (`...`), outside fenced blocks, whitespace collapsed."""
    text = re.sub(
        r"^[ \t]*```.*?^[ \t]*```$", "", (REPO / "README.md").read_text(), flags=re.M | re.S
    )
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", text)]


def readme_inline_commands() -> list[tuple[str, list[str]]]:
    """The commands of the README's prose: inline spans that run snakemake, or randablate with
    options."""
    found = []
    for span in readme_inline_spans():
        if span.startswith("snakemake ") or (span.startswith("randablate ") and " --" in span):
            found += [("README inline", c) for c in shell_commands(span)]
    return found


def makefile_commands() -> list[tuple[str, list[str]]]:
    """The snakemake commands of the Makefile's recipes (`make quick` runs them)."""
    found = []
    for line in (REPO / "Makefile").read_text().splitlines():
        if line.startswith("\t$(RUN) snakemake "):
            found += [("Makefile", c) for c in shell_commands(line.removeprefix("\t$(RUN) "))]
    return found


def snakefile_commands() -> list[tuple[str, list[str]]]:
    """The commands of the Snakefile's docstring (one a line, comments after `#`)."""
    doc = (REPO / "workflow/Snakefile").read_text().split('"""')[1]  # not Python: no ast here
    lines = [line.strip() for line in doc.splitlines() if line.strip().startswith("snakemake ")]
    return [("Snakefile docstring", c) for line in lines for c in shell_commands(line)]


def cli_doc_commands() -> list[tuple[str, list[str]]]:
    """The commands of the CLI module's docstring."""
    doc = ast.get_docstring(ast.parse((REPO / "src/randablate/cli.py").read_text())) or ""
    lines = [line.strip() for line in doc.splitlines() if line.strip().startswith("randablate ")]
    return [("cli.py docstring", c) for line in lines for c in shell_commands(line)]


def profile_commands() -> list[tuple[str, list[str]]]:
    """The commands in the comments of profiles/*/*.yaml (a `\\` continues one on the next line)."""
    found = []
    for path in sorted(REPO.glob("profiles/*/*.yaml")):
        comments = [
            re.sub(r"^#\s?", "", line).rstrip()
            for line in path.read_text().splitlines()
            if line.startswith("#")
        ]
        text = "\n".join(comments).replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip().split(" : ")[0]  # "snakemake --profile x : what it does"
            if line.startswith("snakemake "):
                where = str(path.relative_to(REPO))
                found += [(where, c) for c in shell_commands(line)]
    return found


def gpu_check_commands() -> list[tuple[str, list[str]]]:
    """The snakemake commands of benchmarks/gpu_check.sh, its variables left for `substitute`."""
    script = (REPO / "benchmarks/gpu_check.sh").read_text()
    script = re.sub(r"<<'PY'\n.*?^PY$", "", script, flags=re.M | re.S)  # here-documents
    script = re.sub(r"\|\| \{[^}]*\}", "", script)  # || { ...; exit 1; }
    found = []
    for command in shell_commands(script):
        if command[:3] == ["$PYTHON", "-m", "snakemake"]:
            found.append(("benchmarks/gpu_check.sh", ["snakemake", *command[3:]]))
    return found


def all_commands() -> dict[str, list[tuple[str, list[str]]]]:
    """Every snakemake and randablate command, by its text, with the places that show it."""
    found: dict[str, list[tuple[str, list[str]]]] = {}
    sources = readme_commands() + readme_inline_commands() + snakefile_commands()
    sources += cli_doc_commands() + makefile_commands()
    sources += profile_commands() + gpu_check_commands()
    for where, command in sources:
        program = Path(command[0]).name if command[0].startswith(".venv/") else command[0]
        if program in OTHER_PROGRAMS:
            continue
        assert command[0] in SNAKEMAKE | {"randablate"}, f"{where}: unknown program {command}"
        key = shlex.join([Path(command[0]).name, *command[1:]])  # .venv/bin/snakemake too
        found.setdefault(key, []).append((where, command))
    return found


COMMANDS = all_commands()
SNAKEMAKE_COMMANDS = {k: v for k, v in COMMANDS.items() if v[0][1][0] in SNAKEMAKE}
RANDABLATE_COMMANDS = {k: v for k, v in COMMANDS.items() if v[0][1][0] == "randablate"}


def test_every_source_shows_commands_and_every_block_has_a_known_language():
    languages = {language for language, _ in fenced_blocks((REPO / "README.md").read_text())}
    assert languages <= LANGUAGES, languages - LANGUAGES
    wheres = {where.split(" block")[0] for places in COMMANDS.values() for where, _ in places}
    expected = {"README", "README inline", "Snakefile docstring", "cli.py docstring"}
    expected |= {"benchmarks/gpu_check.sh", "Makefile"}
    expected |= {"profiles/quick/config.yaml", "profiles/reference/config.yaml"}
    expected |= {"profiles/reference/smoothed.yaml", "profiles/slurm/config.yaml"}
    expected |= {"profiles/gpu/config.yaml"}
    assert wheres == expected
    assert len(SNAKEMAKE_COMMANDS) >= 8 and len(RANDABLATE_COMMANDS) >= 1


def test_shell_commands_reads_continuations_chains_and_redirections():
    script = "a --x 1 \\\n   't.csv' >\"$w/log\" 2>&1 || { tail log; }  # it's\ncd d && make\n"
    assert shell_commands(script) == [["a", "--x", "1", "t.csv"], ["{", "tail", "log"], ["}"],
                                      ["cd", "d"], ["make"]]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Running the snakemake commands


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the checkout's files (tracked and untracked, not ignored): a fresh clone."""
    return copy_checkout(tmp_path_factory.mktemp("checkout"))


@pytest.fixture(scope="module")
def stub_data(tmp_path_factory) -> Path:
    """Directories that hold the files of each data set, empty: enough for Snakemake to plan."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]:
        (folder / name).touch()
    for split in ("train", "val"):
        (root / "ilsvrc2012" / split / "n01440764").mkdir(parents=True)
    (root / "mnist").mkdir()
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        (root / "mnist" / f"{name}-idx{3 if 'images' in name else 1}-ubyte").touch()
    return root


def substitute(command: list[str], checkout: Path, workdir: Path) -> list[str]:
    """The shell variables of gpu_check.sh: $PWD the checkout, $workdir the tiny run's folder."""
    values = {"$PWD": str(checkout), "$workdir": str(workdir)}
    return [re.sub(r"\$PWD|\$workdir", lambda m: values[m[0]], word) for word in command]


def dry_run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a snakemake command as written, with --dry-run added, in `cwd`."""
    argv = [sys.executable, "-m", "snakemake", *command[1:], "--dry-run"]
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def check_plans(run: subprocess.CompletedProcess, command: list[str]) -> None:
    """The dry run planned its jobs, or the command only asked for a report of nothing built."""
    output = run.stdout + run.stderr
    if "--report" in command and NOTHING_BUILT.search(output):
        named = set(re.findall(r"\b(\w+(?:Error|Exception))\b", output))
        assert "Traceback" not in output and named == {"WorkflowError"}, output[-3000:]
        return
    assert run.returncode == 0, f"{shlex.join(command)} failed:\n{output[-3000:]}"
    if "--lint" in command:  # checks the rules, plans nothing
        assert "your workflow is in a good condition" in output, output[-3000:]
        return
    assert "This was a dry-run" in output or "Nothing to be done" in output, output[-3000:]


def check_stops_for_data_only(run: subprocess.CompletedProcess, command: list[str]) -> None:
    """A command naming data under /data/: it plans, or stops with the project's no-data error
    naming that path, and with no other error."""
    if run.returncode == 0:
        return check_plans(run, command)
    output = run.stdout + run.stderr
    match = NO_DATA.search(output)
    assert match, f"{shlex.join(command)} failed without the no-data error:\n{output[-3000:]}"
    assert (match["a"] or match["b"]) in shlex.join(command)
    named = set(re.findall(r"\b(\w+(?:Error|Exception))\b", output))
    assert named <= NO_DATA_WRAPPERS, f"other errors {named - NO_DATA_WRAPPERS}:\n{output[-3000:]}"


def with_stub_data(command: list[str], stub_data: Path) -> list[str]:
    """The command with each /data/<name> path replaced by a folder that holds those files."""
    return [DATA_PLACEHOLDER.sub(lambda m: str(stub_data / Path(m[0]).name), w) for w in command]


def run_snakemake_command(command: list[str], checkout: Path, stub_data: Path) -> None:
    """Check one snakemake command as the tests below do (also used by the planted control)."""
    workdir = checkout / ".." / f"{checkout.name}-tiny"
    if "$workdir" in " ".join(command):  # gpu_check.sh: the tiny config in a folder of its own
        workdir.mkdir(exist_ok=True)
        write_config(workdir, tiny_config(workdir / "data"))
    command = substitute(command, checkout, workdir.resolve())
    run = dry_run(command, checkout)
    if DATA_PLACEHOLDER.search(shlex.join(command)):
        check_stops_for_data_only(run, command)
        check_plans(dry_run(with_stub_data(command, stub_data), checkout), command)
    else:
        check_plans(run, command)


@pytest.mark.parametrize("text", sorted(SNAKEMAKE_COMMANDS), ids=lambda t: t[:80])
def test_snakemake_command_plans_as_written(text, checkout, stub_data):
    places = ", ".join(where for where, _ in SNAKEMAKE_COMMANDS[text])
    try:
        run_snakemake_command(SNAKEMAKE_COMMANDS[text][0][1], checkout, stub_data)
    except AssertionError as exc:
        raise AssertionError(f"the command of {places}: {exc}") from None


# The control: commands written wrong must fail the same check.
PLANTED = {
    # --resources takes any number of values, so it swallows the target
    "target_after_resources": "snakemake --cores 8 --resources gpu=2 results/tables/table1.csv",
    "unknown_target": "snakemake results/tables/table99.csv --cores 1",
    "data_and_another_error": "snakemake results/tables/table3.csv --cores 1 --config "
    '\'cifar10={"dir": "/data/cifar10"}\' \'table3={"k": "many"}\'',
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_bad_command_fails_the_check(name, checkout, stub_data):
    with pytest.raises(AssertionError):
        run_snakemake_command(shlex.split(PLANTED[name]), checkout, stub_data)


def check_benchmark_command(command: list[str]) -> None:
    """A `python benchmarks/x.py --option ...` command: the script exists and defines each
    option (a `[--option value]` of the README is optional, still checked)."""
    source = (REPO / command[0]).read_text()
    for option in (word.strip("[]") for word in command[1:] if word.lstrip("[").startswith("--")):
        assert re.search(rf"add_argument\(\s*\"{option}\"", source), (command, option)


def test_readme_benchmark_commands_name_scripts_and_options_that_exist():
    spans = [span for span in readme_inline_spans() if span.startswith("python benchmarks/")]
    assert len(spans) >= 8
    for span in spans:
        for command in shell_commands(span):
            check_benchmark_command(command[1:])
    with pytest.raises(AssertionError):  # the control: an option the script does not take
        check_benchmark_command(["benchmarks/train_epoch.py", "--epochs", "3"])


def test_gpu_check_runs_benchmarks_and_tests_that_exist_with_options_they_take():
    # The CUDA half of gpu_check.sh runs only on a GPU: check that its python commands name
    # files that exist and options that their scripts define (CI runs the CPU half itself).
    script = (REPO / "benchmarks/gpu_check.sh").read_text()
    script = re.sub(r"<<'PY'\n.*?^PY$", "", script, flags=re.M | re.S)
    python = [c[1:] for c in shell_commands(script) if c[0] == "$PYTHON" and c[1].endswith(".py")]
    pytest_runs = [c[2:] for c in shell_commands(script) if c[:3] == ["$PYTHON", "-m", "pytest"]]
    assert len(python) >= 4 and len(pytest_runs) == 1
    for command in python:
        check_benchmark_command(command)
    assert all((REPO / word).is_file() for word in pytest_runs[0] if word.startswith("tests/"))


# ---------------------------------------------------------------------------------------------
# The randablate commands and the python blocks


@pytest.fixture
def inputs(tmp_path, monkeypatch) -> dict:
    """A folder with the files the README's examples name, and the values its blocks take as
    given (`images`, counts, labels, an authors' checkpoint `path`); the test runs there."""
    from test_authors_checkpoints import CIFAR_NAME, CifarResNet18, save_as_authors

    monkeypatch.chdir(tmp_path)
    for path in ("model.pt", "results/models/mnist/multichannel/cnn/k45/model.pt"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_kept_intensity_model(path, k=45)
    images = varied_images(2)
    torch.save(images[:1], "images.pt")  # one image: 11,000 samples at the CLI's defaults
    torch.save(torch.tensor([0]), "labels.pt")
    torch.manual_seed(0)
    save_as_authors(CifarResNet18(6), tmp_path / CIFAR_NAME, torch.rand(4, 6, 32, 32))
    counts_select = np.array([[95, 5, 0, 0, 0, 0, 0, 0, 0, 0], [20, 50, 30, 0, 0, 0, 0, 0, 0, 0]])
    counts_bound = counts_select * 100
    return {
        "images": images[:1],
        "counts_select": counts_select,
        "counts_bound": counts_bound,
        "labels": np.array([0, 2]),
        "path": tmp_path / CIFAR_NAME,
    }


def run_randablate(command: list[str]) -> subprocess.CompletedProcess:
    """Run a randablate command as written (the installed entry point is randablate.cli:main)."""
    argv = [sys.executable, "-m", "randablate.cli", *command[1:]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize("text", sorted(RANDABLATE_COMMANDS))
def test_randablate_command_runs_as_written(text, inputs):
    where, command = RANDABLATE_COMMANDS[text][0]
    run = run_randablate(command)
    assert run.returncode == 0, f"{where}: {text}\n{run.stderr[-3000:]}"
    if "--help" in command:
        assert run.stdout.startswith("usage: randablate certify")
        return
    assert "radius -1: not certified" in run.stdout
    out = [command[i + 1] for i, word in enumerate(command) if word == "--out"]
    for path in out:
        assert Path(path).is_file()


def test_the_python_blocks_run_in_order_on_small_inputs(inputs):
    blocks = fenced_blocks((REPO / "README.md").read_text())
    python = [code for language, code in blocks if language == "python"]
    assert len(python) >= 3
    namespace = dict(inputs)
    for number, code in enumerate(python):
        exec(compile(code, f"README python block {number}", "exec"), namespace)
    # What the blocks computed, from the inputs given
    assert namespace["cert"].guess.tolist() == [0]  # a smooth dark image: votes 0
    assert namespace["radius_top3"].shape == (2,)
    assert namespace["meta"]["k"] == 75  # the authors' CIFAR-10 checkpoint, last block
