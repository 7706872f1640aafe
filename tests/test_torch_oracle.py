"""`pytest -m torch` without torch fails loudly; the default run skips the oracle cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import selects_torch

TESTS = Path(__file__).parent


@pytest.mark.parametrize(
    ("expression", "selects"),
    [
        ("torch", True),
        ("torch or slow", True),
        ("(torch)", True),
        ("not torch", False),
        ("slow", False),
        ("torch and slow", False),  # a test marked only torch is not selected
        ("", False),
    ],
)
def test_which_mark_expressions_ask_for_the_oracle(expression: str, selects: bool) -> None:
    assert selects_torch(expression) is selects


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a child whose ``import torch`` fails, as if torch were not installed."""
    shadow = tmp_path / "shadow" / "torch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError('torch hidden', name='torch')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), str(TESTS)])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
        env=env,
        check=False,
    )


def test_asking_for_the_oracle_without_torch_is_an_error(tmp_path: Path) -> None:
    """`-m torch` with torch missing exits non-zero (4, a usage error) and says how to install."""
    outcome = run_pytest(tmp_path, "-m", "torch", "tests/test_layer_torch.py")
    assert outcome.returncode == 4, outcome.stdout + outcome.stderr
    message = outcome.stdout + outcome.stderr
    assert "torch cannot be imported" in message
    assert ".[test,torch]" in message
    assert "skipped" not in outcome.stdout


def test_the_default_run_skips_the_oracle_without_torch(tmp_path: Path) -> None:
    """Without -m, the torch tests skip and the run passes (rc 0)."""
    outcome = run_pytest(tmp_path, "tests/test_spatial.py", "tests/test_layer_torch.py")
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "2 skipped" in outcome.stdout
    assert "torch hidden" in outcome.stdout
