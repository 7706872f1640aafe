"""Fuzzing the CLI's options: every input ends in a result or one clean error line, never a traceback."""

from __future__ import annotations

import json

import pytest
from conftest import (
    Outcome,
    assert_fuzz_success_rates,
    count_fuzz_case,
    count_fuzz_success,
    run_cli,
)
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


def mostly(valid: st.SearchStrategy[str], wild: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Three times in four a valid value, else a wild one: so that some runs succeed, and the
    success path is fuzzed too, not only the refusals."""
    return st.one_of(valid, valid, valid, wild)


small = st.integers(1, 9).map(str)


def check_outcome(outcome: Outcome, *, expect_json: bool) -> bool:
    """A run either succeeds with a parseable result or fails with one clean line and no stdout.

    True when it succeeded."""
    assert outcome.exception is None, repr(outcome.exception)
    assert "Traceback" not in outcome.stderr
    if outcome.exit_code == 0:
        assert outcome.stderr == ""
        if expect_json:
            document = json.loads(outcome.stdout)
            # Cout/groups >= 1, so a standard conv never costs less than its depthwise part.
            assert document["standard"]["macs"] >= document["separable"]["depthwise"]["macs"]
        return True
    assert outcome.exit_code in (1, 2), (outcome.exit_code, outcome.stderr)
    assert outcome.stdout == ""
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    return False


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
    wild=st.integers(-1, 7),
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
    wild: int,
) -> None:
    """Random and malformed option values for `layer` give a result or one clean error line.

    ``wild`` -1 keeps every drawn value; otherwise only option ``wild`` keeps its drawn value and
    the others are valid, so that the success path is fuzzed as well as the refusals."""
    count_fuzz_case("layer options")
    drawn = [cin, cout, kernel, hw, stride, padding, dilation, groups]
    valid = ["8", "16", "3", "32", "1", "same", "1", "1"]
    values = (
        drawn
        if wild < 0
        else [d if i == wild else v for i, (d, v) in enumerate(zip(drawn, valid, strict=True))]
    )
    options = ["--cin", "--cout", "-k", "--hw", "-s", "-p", "-d", "-g"]
    args = ["layer", *(item for pair in zip(options, values, strict=True) for item in pair)]
    if check_outcome(run_cli(*args, "-f", fmt), expect_json=fmt == "json"):
        count_fuzz_success("layer options")


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
    if check_outcome(outcome, expect_json=True):
        count_fuzz_success("huge sizes")
        document = outcome.json()
        assert document["standard"]["macs"] == cout * hw * hw * cin * k * k


#: Rates as a user might type them: subnormals, the float limits, and their text forms. One branch
#: in four draws only valid rates, so that both rates are valid in about a quarter of the cases (the
#: suite's success share, checked at 0.05, was 0.07 to 0.13 without it; 0.22 to 0.39 with it).
rates = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(1e-4, 1e13).map(repr),
    st.floats(1e-3, 1e12).map(repr),
    st.sampled_from(
        [
            "1e-320",
            "5e-324",
            "1e308",
            "1.7976931348623157e308",
            "1e-3",
            "1e12",
            "0.001",
            "1000000000000",
            "1e12000",
            "-0",
            "0",
            "nan",
            "inf",
            "-inf",
            "1_0",
            "10",
        ]
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    peak=rates,
    bandwidth=rates,
    command=st.sampled_from(["layer", "network"]),
    fmt=st.sampled_from(["json", "table", "csv", "markdown"]),
)
def test_extreme_rates_give_finite_figures_or_one_error(
    peak: str, bandwidth: str, command: str, fmt: str
) -> None:
    """Any --peak-gflops / --bandwidth-gbs: finite figures (never inf or nan) or one clean error."""
    count_fuzz_case("extreme rates")
    base = ["layer", "--cin", "32", "--cout", "64", "--hw", "56"]
    args = base if command == "layer" else ["network", "mobilenet_v1", "-n", "5"]
    outcome = run_cli(*args, f"--peak-gflops={peak}", f"--bandwidth-gbs={bandwidth}", "-f", fmt)
    assert outcome.exception is None, repr(outcome.exception)
    assert "Traceback" not in outcome.stderr
    if outcome.exit_code == 0:
        count_fuzz_success("extreme rates")
        assert 1e-3 <= float(peak) <= 1e12
        assert 1e-3 <= float(bandwidth) <= 1e12
        words = set(outcome.stdout.lower().replace(",", " ").replace("\u00d7", " ").split())
        assert not words & {"inf", "nan", "infinity", "-inf"}
        if fmt == "json":
            json.loads(outcome.stdout, parse_constant=pytest.fail)
        return
    assert outcome.stdout == ""
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")


#: Values at and around the limits of every size option.
limits = st.sampled_from(
    ["1", "2", "3", "2147483646", "2147483647", "2147483648", "4294967296", "0", "-1"]
)


@settings(max_examples=150, deadline=None)
@given(
    cin=limits,
    cout=limits,
    kernel=mostly(small, limits),
    hw=limits,
    stride=mostly(st.just("1"), limits),
    padding=mostly(st.sampled_from(["same", "valid"]), limits),
    dilation=mostly(st.just("1"), limits),
    batch=mostly(st.just("1"), limits),
)
def test_sizes_at_the_limits_count_exactly_or_name_the_option(
    cin: str,
    cout: str,
    kernel: str,
    hw: str,
    stride: str,
    padding: str,
    dilation: str,
    batch: str,
) -> None:
    """Every size option at, below and past its limit: exact counts or one error naming the option."""
    count_fuzz_case("sizes at limits")
    args = ["layer", "--cin", cin, "--cout", cout, "-k", kernel, "--hw", hw, "-s", stride]
    outcome = run_cli(*args, "-p", padding, "-d", dilation, "-b", batch, "--json")
    if check_outcome(outcome, expect_json=True):
        count_fuzz_success("sizes at limits")
        document = outcome.json()
        out = document["output"]
        assert max(out["channels"], out["height"], out["width"]) <= 2**31 - 1
    else:
        assert outcome.stderr.startswith("Error: --"), outcome.stderr


@settings(max_examples=25, deadline=None)
@given(
    size=st.sampled_from(["1", "2", "64", "65535", "2147483647"]),
    stride=st.sampled_from(["1", "2", "64", "65", "2147483647"]),
    kernel=st.sampled_from(["1", "3", "2147483647"]),
)
def test_bench_at_the_limits_refuses_before_any_work(size: str, stride: str, kernel: str) -> None:
    """bench with sizes and strides at the limits runs (small ones) or refuses up front."""
    count_fuzz_case("bench at limits")
    outcome = run_cli(
        "bench",
        "--cin",
        "2",
        "--cout",
        "2",
        "--hw",
        size,
        "-k",
        kernel,
        "-s",
        stride,
        "--budget",  # a ceiling: the first case may include numba's first compile
        "10",
        "-q",
        "--json",
    )
    if check_outcome(outcome, expect_json=False):
        count_fuzz_success("bench at limits")
        assert json.loads(outcome.stdout)["kernels"]


def test_the_fuzz_suites_reach_results() -> None:
    """A suite whose every case is refused would test only the error path (runs after them)."""
    assert_fuzz_success_rates(
        {
            "layer options": 0.02,
            "huge sizes": 0.3,
            "extreme rates": 0.05,
            "sizes at limits": 0.02,
            "bench at limits": 0.04,
        }
    )
