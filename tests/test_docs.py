"""Meta-tests that keep the README honest: its examples run and every command is documented."""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import pytest
import typer.main
from conftest import run_cli

from dsc_calc.cli import app

README = Path(__file__).parent.parent / "README.md"
README_TEXT = README.read_text(encoding="utf-8")


def _rstripped(text: str) -> str:
    """``text`` without its outer blank lines and each line's trailing spaces."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def console_commands() -> list[str]:
    """Every `$ dsc-calc ...` line inside a console block of the README."""
    blocks = re.findall(r"```console\n(.*?)```", README_TEXT, flags=re.DOTALL)
    return [
        line[2:]
        for block in blocks
        for line in block.splitlines()
        if line.startswith("$ dsc-calc ")
    ]


def expected_output(command: str) -> str | None:
    """The lines printed under a README command, up to the next `$` line or the block's end."""
    for block in re.findall(r"```console\n(.*?)```", README_TEXT, flags=re.DOTALL):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if line == f"$ {command}":
                output = []
                for following in lines[index + 1 :]:
                    if following.startswith("$ "):
                        break
                    output.append(following)
                return "\n".join(output)
    return None


COMMANDS = console_commands()


def test_readme_has_examples() -> None:
    """The README shows at least one runnable example."""
    assert len(COMMANDS) >= 3


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_example_runs_and_prints_what_it_shows(command: str) -> None:
    """Each README example exits as its shown output implies and prints exactly what is shown."""
    args = shlex.split(command)[1:]
    outcome = run_cli(*args)
    shown = expected_output(command) or ""
    printed = outcome.stderr if shown.startswith("Error:") else outcome.stdout
    assert outcome.exit_code == (1 if shown.startswith("Error:") else 0), outcome.stderr
    if shown.strip() and "--json" not in args:
        assert _rstripped(printed) == _rstripped(shown)


def test_readme_python_examples_pass_as_doctests() -> None:
    """The README's Python API examples run and print what they show."""
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3
    assert result.failed == 0


def all_commands() -> dict[str, typer.main.click.Command]:  # type: ignore[name-defined]
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_every_command_has_help_with_an_example_and_a_readme_example() -> None:
    """Each command has help text, an example in --help, and a README example that runs."""
    commands = all_commands()
    assert "layer" in commands
    for name, command in commands.items():
        assert command.help, f"{name} has no help text"
        outcome = run_cli(name, "--help")
        assert outcome.exit_code == 0
        assert f"dsc-calc {name}" in outcome.stdout, f"{name} --help shows no example"
        assert any(c.startswith(f"dsc-calc {name}") for c in COMMANDS), (
            f"no README example of {name}"
        )


def test_readme_opens_with_two_commands_that_work_without_a_system_pip() -> None:
    """The first block: two lines, each making and entering a venv before `pip install`, one
    running the tool and one the tests (a system Python may refuse pip outside a venv)."""
    first = re.search(r"```console\n(.*?)```", README_TEXT, flags=re.DOTALL)
    assert first is not None
    assert README_TEXT.index(first.group(0)) < README_TEXT.index("\n## ")
    lines = first.group(1).strip().splitlines()
    assert len(lines) == 2
    venv = "python3 -m venv .venv && . .venv/bin/activate && pip install "
    assert all(line.startswith(venv) for line in lines)
    assert "&& dsc-calc " in lines[0]
    assert '".[test]"' in lines[1]
    assert lines[1].endswith("python -m pytest --cov")
