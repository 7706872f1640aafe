"""Fuzzing the CLI's options: every input ends in a result or one clean error line, never a traceback."""

from __future__ import annotations

import json

import pytest
from conftest import Outcome, count_fuzz_case, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.fuzz

#: Values a user might type, or mistype, for a numeric option.
numberish = st.one_of(
    st.integers(-5, 600).map(str),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-0",
            "1e3",
            "3.5",
            "nan",
            "inf",
            "0x10",
            "3x",
            "x3",
            "3x3",
            "5,3",
            "2×1",
            "٣",
        ]
    ),
    st.text(max_size=12),
)
padding_words = st.one_of(numberish, st.sampled_from(["same", "valid", "SAME", "full", "1x2"]))


def check_outcome(outcome: Outcome, *, expect_json: bool) -> None:
    """A run either succeeds with a parseable result or fails with one clean line and no stdout."""
    assert outcome.exception is None, repr(outcome.exception)
    assert "Traceback" not in outcome.stderr
    if outcome.exit_code == 0:
        assert outcome.stderr == ""
        if expect_json:
            document = json.loads(outcome.stdout)
            # Cout/groups >= 1, so a standard conv never costs less than its depthwise part.
            assert document["standard"]["macs"] >= document["separable"]["depthwise"]["macs"]
        return
    assert outcome.exit_code in (1, 2), (outcome.exit_code, outcome.stderr)
    assert outcome.stdout == ""
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cin=numberish,
    cout=numberish,
    kernel=numberish,
    hw=numberish,
    stride=numberish,
    padding=padding_words,
    dilation=numberish,
    groups=numberish,
    fmt=st.sampled_from(["json", "csv", "markdown", "table", "yaml"]),
)
def test_layer_options_never_crash(
    cin: str,
    cout: str,
    kernel: str,
    hw: str,
    stride: str,
    padding: str,
    dilation: str,
    groups: str,
    fmt: str,
) -> None:
    """Random and malformed option values for `layer` give a result or one clean error line."""
    count_fuzz_case("layer options")
    args = ["layer", "--cin", cin, "--cout", cout, "-k", kernel, "--hw", hw, "-s", stride]
    args += ["-p", padding, "-d", dilation, "-g", groups, "-f", fmt]
    check_outcome(run_cli(*args), expect_json=fmt == "json")


@settings(max_examples=150, deadline=None)
@given(
    cin=st.integers(1, 2**31 - 1),
    cout=st.integers(1, 2**31 - 1),
    k=st.integers(1, 2**31 - 1),
    hw=st.integers(1, 2**31 - 1),
)
def test_huge_valid_sizes_count_exactly_and_fast(cin: int, cout: int, k: int, hw: int) -> None:
    """Sizes up to the int32 bound are counted exactly (or refused when the kernel cannot fit)."""
    count_fuzz_case("huge sizes")
    outcome = run_cli(
        "layer", "--cin", str(cin), "--cout", str(cout), "-k", str(k), "--hw", str(hw), "--json"
    )
    check_outcome(outcome, expect_json=True)
    if outcome.exit_code == 0:
        document = outcome.json()
        assert document["standard"]["macs"] == cout * hw * hw * cin * k * k
