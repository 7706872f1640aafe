"""Hostile files, streams and values: each ends in a result or exactly one clean ``Error:`` line.

Cases that need a real process (closed streams, FIFOs, signals, terminal encodings) run
``python -m dsc_calc`` in a subprocess; the rest go through the in-process CLI runner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLI_ENV, assert_clean_error, run_cli

from dsc_calc.errors import DscCalcError
from dsc_calc.files import read_bounded

LAYER = ("layer", "--cin", "3", "--cout", "8", "--hw", "8")


def run_process(
    *args: str, stdin: int | None = None, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    """``dsc-calc ARGS`` in a fresh interpreter, with bytes captured."""
    environment = {**os.environ, **CLI_ENV, **(env or {})}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", "from dsc_calc.cli import main; main()", *args],
        stdin=stdin,
        capture_output=True,
        env=environment,
        timeout=60,
        check=False,
        **kwargs,
    )


def assert_one_error_line(stderr: bytes, *fragments: str) -> str:
    """stderr is one ``Error:`` line naming every fragment, with no traceback."""
    text = stderr.decode("utf-8", "replace")
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("Error: "), text
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- Special files as input ---------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("network", "{}"),
        ("kernel", "--file", "{}"),
        ("bench", "{}"),
        (*LAYER, "--profile", "{}"),
    ],
)
def test_a_fifo_as_input_is_refused_without_blocking(fifo: Path, args: tuple[str, ...]) -> None:
    """A FIFO with no writer would block an open() forever: it is refused as not a regular file."""
    outcome = run_cli(*(arg.format() if arg != "{}" else str(fifo) for arg in args))
    assert_clean_error(outcome, "FIFO", "not a regular file")


def test_a_device_as_a_spec_is_refused() -> None:
    """/dev/zero never ends: it is refused before anything is read."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    assert_clean_error(run_cli("network", "/dev/zero"), "/dev/zero", "device")


def test_an_empty_spec_name_is_named() -> None:
    """`network ""` says the name is empty, not that "." is a directory."""
    assert_clean_error(run_cli("network", ""), "SPEC", "empty file name")


def test_the_bounded_reader_refuses_a_file_over_its_limit(tmp_path: Path) -> None:
    """The one reader stops at its limit and names it."""
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 101)
    assert read_bounded(path, 101, where="x", what="spec") == b" " * 101
    with pytest.raises(DscCalcError, match="over the 100 bytes limit"):
        read_bounded(path, 100, where="x", what="spec")


@pytest.mark.parametrize("args", [("network", "-"), ("kernel", "-"), ("bench", "-")])
def test_a_closed_stdin_is_one_clean_error(args: tuple[str, ...]) -> None:
    """`<&-` leaves sys.stdin None: one error line, not an AttributeError."""
    result = run_process(*args, stdin=None, close_fds=True, preexec_fn=lambda: os.close(0))
    assert result.returncode == 1
    assert result.stdout == b""
    assert_one_error_line(result.stderr, "standard input", "closed")
