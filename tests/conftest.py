"""Shared fixtures: a CLI runner that keeps stdout and stderr apart, at a fixed width, colour off."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from dsc_calc.cli import app

#: The network spec given as the example in the network issue, verbatim; tests copy it before
#: changing anything.
TOY: dict[str, Any] = {
    "name": "toy",
    "input": {"channels": 3, "height": 224, "width": 224},
    "layers": [
        {"type": "conv", "out": 32, "k": 3, "stride": 2, "bias": False},
        {"type": "batchnorm"},
        {"type": "relu"},
        {"type": "dsconv", "out": 64, "k": 3},
        {"repeat": 5, "layers": [{"type": "dsconv", "out": 64, "k": 3}]},
        {
            "type": "conv",
            "out": 64,
            "k": [5, 3],
            "stride": [2, 1],
            "padding": [0, 1],
            "dilation": [1, 2],
            "groups": 4,
        },
        {"type": "pool", "op": "max", "k": 2, "stride": 2, "padding": 0},
        {"type": "pool", "op": "avg", "global": True},
        {"type": "linear", "out": 1000, "bias": True},
    ],
}

#: Environment for every CLI test: a fixed width and no colour, so tables are byte-stable.
CLI_ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


@dataclass(frozen=True)
class Outcome:
    """What one CLI run printed and returned."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self) -> Any:
        """stdout parsed as JSON (fails the test if it is not exactly one JSON document)."""
        return json.loads(self.stdout)


def run_cli(*args: str, input: str | None = None) -> Outcome:
    """Run ``dsc-calc ARGS`` in-process and capture stdout and stderr separately."""
    result = CliRunner().invoke(app, list(args), input=input, env=CLI_ENV)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.stdout, result.stderr, exception)


@pytest.fixture
def cli() -> Any:
    """The :func:`run_cli` helper as a fixture."""
    return run_cli


def assert_clean_error(outcome: Outcome, *fragments: str, code: int = 1) -> None:
    """An error run: the exit code, nothing on stdout, one ``Error:`` line naming every fragment."""
    assert outcome.exception is None, f"unexpected exception {outcome.exception!r}"
    assert outcome.exit_code == code, (outcome.exit_code, outcome.stderr)
    assert outcome.stdout == ""
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in outcome.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


GOLDEN_DIR = Path(__file__).parent / "golden"

# HYPOTHESIS_PROFILE=dev runs every property test on a few examples, for a fast inner loop
# (with -m "not fuzz"); CI and the README's test command use the default profile.
settings.register_profile("dev", max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def selects_torch(markexpr: str) -> bool:
    """Whether ``-m MARKEXPR`` selects a test marked only ``torch`` (``torch``, ``torch or x``)."""
    from _pytest.mark.expression import Expression

    def marked_torch(name: str, /, **kwargs: object) -> bool:
        return name == "torch" and not kwargs

    return bool(markexpr.strip()) and Expression.compile(markexpr).evaluate(marked_torch)


def pytest_configure(config: pytest.Config) -> None:
    """``pytest -m torch`` without torch is an error, not a run of skips that passes."""
    if not selects_torch(config.option.markexpr or ""):
        return
    try:
        import torch  # noqa: F401 - only its presence matters
    except ImportError as error:
        raise pytest.UsageError(
            f"-m {config.option.markexpr!r} asks for the PyTorch oracle tests, but torch cannot "
            f'be imported ({error}). Install the CPU build: pip install -e ".[test,torch]" '
            "--extra-index-url https://download.pytorch.org/whl/cpu (README, 'Checking the "
            "counts against PyTorch'). Without -m torch the oracle tests are skipped."
        ) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite tests/golden/*.txt from the current output instead of comparing.",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Any:
    """Compare text with tests/golden/NAME, or rewrite it under --update-golden."""

    def check(name: str, text: str) -> None:
        path = GOLDEN_DIR / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path}; run pytest --update-golden"
        assert text == path.read_text(encoding="utf-8")

    return check


#: How many generated cases each fuzz test ran, printed at the end of the session.
FUZZ_CASES: dict[str, int] = {}


def count_fuzz_case(name: str) -> None:
    """Record one generated case of the fuzz test ``name``."""
    FUZZ_CASES[name] = FUZZ_CASES.get(name, 0) + 1


#: How many of those cases ended in a result rather than an error.
FUZZ_SUCCESSES: dict[str, int] = {}


def count_fuzz_success(name: str) -> None:
    """Record that one case of the fuzz test ``name`` gave a result (exit 0, or a report)."""
    FUZZ_SUCCESSES[name] = FUZZ_SUCCESSES.get(name, 0) + 1


def assert_fuzz_success_rates(minimum: dict[str, float]) -> None:
    """Each fuzz test of ``minimum`` that ran gave a result in at least that share of its cases:
    a suite whose inputs are all refused tests only the error path. Skips when none ran (-k)."""
    ran = {name: FUZZ_CASES.get(name, 0) for name in minimum}
    if not any(ran.values()):
        pytest.skip("none of these fuzz tests ran in this session")
    for name, share in minimum.items():
        if ran[name]:
            successes = FUZZ_SUCCESSES.get(name, 0)
            assert successes / ran[name] >= share, (name, successes, ran[name], share)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FUZZ_CASES:
        total = sum(FUZZ_CASES.values())
        parts = ", ".join(
            f"{name} {count} ({FUZZ_SUCCESSES.get(name, 0)} results)"
            for name, count in sorted(FUZZ_CASES.items())
        )
        terminalreporter.write_line(f"fuzz: {total} generated cases ran ({parts})")
