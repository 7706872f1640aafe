"""Help text for new users: one meaning per short flag, examples one a line, no broken choices."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from conftest import CLI_ENV, run_cli
from typer.testing import CliRunner

from dsc_calc.cli import app
from dsc_calc.cli.schema import SchemaChoice


def commands() -> dict[str, Any]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_each_short_flag_has_one_meaning_across_commands() -> None:
    """A short flag names the same long option in every command that has it."""
    meanings: dict[str, set[str]] = {}
    for command in commands().values():
        for param in command.params:
            names = [*param.opts, *param.secondary_opts]
            longs = sorted(name for name in names if name.startswith("--"))
            for short in (name for name in names if re.fullmatch(r"-\w", name)):
                meanings.setdefault(short, set()).add(longs[0] if longs else "")
    clashes = {short: longs for short, longs in meanings.items() if len(longs) > 1}
    assert clashes == {}
    assert meanings["-r"] == {"--resolution"}
    assert meanings["-m"] == {"--memory"}


def test_the_long_options_that_lost_their_short_flag_still_work() -> None:
    """sweep --measure and bench --repeat keep their long names; -m and -r mean one thing."""
    csv = run_cli("sweep", "--cout", "8", "-k", "3", "--measure", "params", "-f", "csv")
    assert csv.exit_code == 0, csv.stderr
    refused = run_cli("sweep", "--cout", "8", "-k", "3", "-m", "params")
    assert refused.exit_code == 2
    help_text = run_cli("bench", "--help").stdout
    assert "--repeat" in help_text


def example_lines(epilog: str) -> list[str]:
    head, _, body = epilog.partition("\n\n")
    assert head in ("Example:", "Examples:"), epilog
    return body.splitlines() if body else [head]


@pytest.mark.parametrize("name", sorted(commands()))
def test_examples_are_one_a_line_never_joined_with_pipes(name: str) -> None:
    """`Examples:` then one command a line, each starting with dsc-calc (or echo into one); a
    ` | ` only pipes into `dsc-calc ... -` reading stdin, never separates two examples."""
    epilog = commands()[name].epilog
    lines = example_lines(epilog)
    assert len(lines) >= 1
    for line in lines:
        assert line.startswith(("dsc-calc ", "echo ")) or line == "dsc-calc " + name, line
        for piped in line.split(" | ")[1:]:
            assert piped.startswith("dsc-calc "), line
            assert " - " in f"{piped} ", line
    shown = run_cli(name, "--help").stdout
    for line in lines:
        assert line in shown  # each on its own line in the rendered help (width 100)


def test_schema_help_at_80_columns_breaks_no_choice() -> None:
    """At 80 columns no choice is cut across lines (as 'swe' + 'ep' was): no word of the help is
    a strict prefix (3+ letters) or suffix (2+ letters) of a choice, and every choice is whole."""
    result = CliRunner().invoke(app, ["schema", "--help"], env={**CLI_ENV, "COLUMNS": "80"})
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    words = set(re.findall(r"[a-z]+", result.stdout))
    for choice in (c.value for c in SchemaChoice):
        assert choice in words
        pieces = {choice[:n] for n in range(3, len(choice))} | {
            choice[n:] for n in range(1, len(choice) - 1)
        }
        assert not pieces & words, (choice, pieces & words)
