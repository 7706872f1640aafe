"""``dsc-calc kernel``: rank, exact factors, reconstruction, cost, and every bad input."""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc.cli.kernel import READ_LIMIT as CLIREAD_LIMIT
from dsc_calc.cost.spatial import (
    MAX_SIDE,
    MAX_TEXT,
    analyse,
    analyse_text,
    parse_kernel,
    validate_kernel,
)
from dsc_calc.errors import DscCalcError


def outer(a: list[int], b: list[int]) -> list[list[int]]:
    return [[x * y for y in b] for x in a]


SEPARABLE = {
    "box 3x3": ([1, 1, 1], [1, 1, 1]),
    "box 5x5": ([1] * 5, [1] * 5),
    "binomial 3x3": ([1, 2, 1], [1, 2, 1]),
    "binomial 5x5": ([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]),
    "sobel x": ([1, 2, 1], [-1, 0, 1]),
    "sobel y": ([-1, 0, 1], [1, 2, 1]),
    "prewitt x": ([1, 1, 1], [-1, 0, 1]),
    "prewitt y": ([-1, 0, 1], [1, 1, 1]),
    "non-square 5x3": ([1, 4, 6, 4, 1], [-1, 0, 1]),
}


@pytest.mark.parametrize(("name", "factors"), SEPARABLE.items())
def test_known_separable_kernels_are_rank_one_with_exact_integer_factors(
    name: str, factors: tuple[list[int], list[int]]
) -> None:
    """Box, binomial, Sobel and Prewitt kernels come back rank 1 with their textbook factors."""
    a, b = factors
    report = analyse_text(json.dumps(outer(a, b)))
    assert report.rank == 1, name
    assert report.factors.exact
    assert (list(report.factors.a), list(report.factors.b)) == (a, b)
    assert report.factors.scale == 1
    assert report.max_abs_error == report.relative_error == 0.0
    assert report.direct_cost == len(a) * len(b)
    assert report.separable_cost == len(a) + len(b)


def test_sobel_through_the_cli_json() -> None:
    """The Sobel x kernel's JSON names [1,2,1] and [-1,0,1], 9 vs 6 multiplications per pixel."""
    outcome = run_cli("kernel", "[[-1,0,1],[-2,0,2],[-1,0,1]]", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    doc = outcome.json()
    assert doc["rank"] == 1
    assert doc["separable"] is True
    assert doc["kernel"] == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert all(type(x) is int for row in doc["kernel"] for x in row)
    assert doc["factors"]["a"] == [1, 2, 1]
    assert doc["factors"]["b"] == [-1, 0, 1]
    assert doc["cost"] == {
        "direct": 9,
        "separable": 6,
        "rank": 6,
        "saving_separable": 1.5,
        "saving_rank": 1.5,
    }


def test_scaled_and_decimal_kernels_get_integer_factors_and_an_exact_scale() -> None:
    """A normalised Gaussian (entries /16) and a 0.1-scaled box keep integer factors and scale."""
    gauss = [[x / 16 for x in row] for row in outer([1, 2, 1], [1, 2, 1])]
    report = analyse_text(json.dumps(gauss))
    assert (report.factors.a, report.factors.b) == ((1, 2, 1), (1, 2, 1))
    assert report.factors.scale == Fraction(1, 16)
    box = analyse_text("[[0.1, 0.1], [0.1, 0.1]]")
    assert box.factors.exact
    assert box.factors.scale == Fraction(1, 10)
    doubled = analyse_text("[[2, 4], [6, 12]]")
    assert (doubled.factors.a, doubled.factors.b, doubled.factors.scale) == ((1, 3), (1, 2), 2)


def test_one_dimensional_input_is_a_single_row() -> None:
    """A flat list [1,2,1] is a 1x3 kernel: rank 1, a = [1], cost 3 vs 4."""
    report = analyse_text("[1, 2, 1]")
    assert report.shape == (1, 3)
    assert report.rank == 1
    assert report.factors.a == (1,)
    assert report.factors.b == (1, 2, 1)
    assert (report.direct_cost, report.separable_cost) == (3, 4)


def test_zero_kernel_has_rank_zero() -> None:
    """The all-zero kernel has rank 0 and nothing to reconstruct."""
    report = analyse_text("[[0, 0], [0, 0]]")
    assert report.rank == 0
    assert report.relative_error == 0.0


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_sums_of_random_integer_outer_products_have_that_rank(rank: int) -> None:
    """A sum of r outer products of random integer vectors (generically independent) has rank r."""
    rng = random.Random(rank)  # noqa: S311 - reproducible test data, not secrets
    for _ in range(20):
        kh, kw = rng.randint(rank, 7), rng.randint(rank, 7)
        kernel = [[0] * kw for _ in range(kh)]
        for _ in range(rank):
            a = [rng.randint(-9, 9) for _ in range(kh)]
            b = [rng.randint(-9, 9) for _ in range(kw)]
            for i in range(kh):
                for j in range(kw):
                    kernel[i][j] += a[i] * b[j]
        report = analyse(parse_kernel(json.dumps(kernel)))
        exact_rank = _exact_rank([[Fraction(x) for x in row] for row in kernel])
        assert report.rank == exact_rank, kernel
        if exact_rank == rank:
            assert report.rank_cost == rank * (kh + kw)
        if exact_rank > 1:
            assert not report.factors.exact
            sigma = report.singular_values
            expected = (sum(s * s for s in sigma[1:]) / sum(s * s for s in sigma)) ** 0.5
            assert report.relative_error == pytest.approx(expected, rel=1e-9, abs=1e-12)


def _exact_rank(matrix: list[list[Fraction]]) -> int:
    """Rank by Gaussian elimination over the rationals: an independent check of the SVD."""
    rows = [row[:] for row in matrix]
    rank = 0
    for column in range(len(rows[0])):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][column] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for r in range(len(rows)):
            if r != rank and rows[r][column] != 0:
                factor = rows[r][column] / rows[rank][column]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[rank], strict=True)]
        rank += 1
    return rank


def test_rank_two_kernel_reports_best_rank_one_approximation() -> None:
    """[[1,2],[3,4]]: the rank-1 error equals σ₂/‖K‖ (Eckart-Young) and rank-2 costs 2·(2+2)."""
    report = analyse_text("[[1, 2], [3, 4]]")
    assert report.rank == 2
    # singular values of [[1,2],[3,4]]: sqrt((30 ± sqrt(30² - 4·det²)) / 2), det = -2
    s1, s2 = ((30 + 884**0.5) / 2) ** 0.5, ((30 - 884**0.5) / 2) ** 0.5
    assert report.singular_values == pytest.approx((s1, s2))
    assert report.relative_error == pytest.approx(s2 / 30**0.5)
    assert report.rank_cost == 8
    scale = report.factors.scale
    approx = [[scale * x * y for y in report.factors.b] for x in report.factors.a]
    residual = sum((approx[i][j] - [[1, 2], [3, 4]][i][j]) ** 2 for i in range(2) for j in range(2))
    assert residual**0.5 / 30**0.5 == pytest.approx(report.relative_error)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(-20, 20), min_size=1, max_size=7),
    st.lists(st.integers(-20, 20), min_size=1, max_size=7),
)
def test_factors_reconstruct_any_integer_rank_one_kernel(a: list[int], b: list[int]) -> None:
    """For K = a·bᵀ with integer a, b (not all zero): scale · a' · b'ᵀ == K exactly."""
    kernel = outer(a, b)
    report = analyse_text(json.dumps(kernel))
    if not any(any(row) for row in kernel):
        assert report.rank == 0
        return
    assert report.rank == 1
    assert report.factors.exact
    scale = Fraction(report.factors.scale)
    rebuilt = [[scale * x * y for y in report.factors.b] for x in report.factors.a]
    assert rebuilt == kernel
    assert all(isinstance(x, int) for x in (*report.factors.a, *report.factors.b))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-10, 10, allow_nan=False, width=32), min_size=1, max_size=6),
    st.lists(st.floats(-10, 10, allow_nan=False, width=32), min_size=1, max_size=6),
)
def test_factors_reconstruct_float_rank_one_kernels(a: list[float], b: list[float]) -> None:
    """For K = a·bᵀ with float a, b: scale · a' · b'ᵀ reconstructs K to rounding error."""
    kernel = outer(a, b)  # type: ignore[arg-type]
    report = analyse_text(json.dumps(kernel))
    norm = sum(x * x for row in kernel for x in row) ** 0.5
    scale = float(report.factors.scale)
    for i, row in enumerate(kernel):
        for j, value in enumerate(row):
            rebuilt = scale * float(report.factors.a[i]) * float(report.factors.b[j])
            assert rebuilt == pytest.approx(value, abs=1e-9 * max(norm, 1.0))


def test_kernel_from_file_and_stdin_equal_inline(tmp_path: Path) -> None:
    """--file and '-' (stdin) read the same kernel as the inline argument."""
    text = "[[1,2,1],[2,4,2],[1,2,1]]"
    path = tmp_path / "k.json"
    path.write_text(text, encoding="utf-8")
    inline = run_cli("kernel", text, "--json")
    from_file = run_cli("kernel", "--file", str(path), "--json")
    from_stdin = run_cli("kernel", "-", "--json", input=text)
    assert inline.exit_code == from_file.exit_code == from_stdin.exit_code == 0
    assert inline.stdout == from_file.stdout == from_stdin.stdout


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_every_format_prints_the_factors(fmt: str) -> None:
    """Tables, CSV and Markdown all show the factors and nothing on stderr."""
    outcome = run_cli("kernel", "[[-1,0,1],[-2,0,2],[-1,0,1]]", "-f", fmt)
    assert outcome.exit_code == 0
    assert outcome.stderr == ""
    assert "[1, 2, 1]" in outcome.stdout
    assert "[-1, 0, 1]" in outcome.stdout


BAD = [
    ("[[1,2],[3]]", ["kernel[1]", "1 entry", "kernel[0] has 2"]),
    ("[]", ["kernel:", "empty"]),
    ("[[]]", ["kernel[0]", "empty row"]),
    ('[[1,"x"]]', ["kernel[0][1]", 'got "x"']),
    ("[[1,2],[3,true]]", ["kernel[1][1]", "got true"]),
    ("[[null]]", ["kernel[0][0]", "got null"]),
    ("[[NaN]]", ["kernel[0][0]", "finite", "NaN"]),
    ("[[Infinity]]", ["kernel[0][0]", "Infinity"]),
    ("[[1e999]]", ["kernel[0][0]", "1e999"]),
    ("[[1" + "0" * 400 + "]]", ["kernel[0][0]", "finite"]),
    ("[[[1]]]", ["kernel[0][0]", "2 dimensions"]),
    ("[[1],2]", ["kernel[1]", "must be a row"]),
    ('{"k": 1}', ["kernel:", "JSON array"]),
    ("3", ["kernel:", "JSON array"]),
    ("[[1,2]", ["kernel:", "not valid JSON"]),
    ("__import__('os')", ["kernel:", "not valid JSON"]),
    ("   ", ["kernel:", "empty"]),
    ("[" * 100_000, ["kernel:", "nested too deeply"]),
    ("[" + ",".join(["1"] * (MAX_SIDE + 1)) + "]", ["kernel", f"at most {MAX_SIDE}"]),
    ("[" + ",".join(["[1]"] * (MAX_SIDE + 1)) + "]", ["kernel", f"at most {MAX_SIDE}"]),
    (json.dumps([[1] * 300] * 300), ["kernel", "300×300 entries", "at most 65536"]),
]


@pytest.mark.parametrize(("text", "fragments"), BAD, ids=[t[:20] for t, _ in BAD])
def test_bad_kernels_are_one_clean_error_line(text: str, fragments: list[str]) -> None:
    """Ragged, empty, non-numeric, boolean, non-finite, 3-D, non-JSON or huge: one clean error."""
    assert_clean_error(run_cli("kernel", text), *fragments)


def test_bad_kernel_on_stdin_is_a_clean_error() -> None:
    """A ragged kernel on standard input is refused like an inline one."""
    assert_clean_error(run_cli("kernel", "-", input="[[1,2],[3]]"), "kernel[1]")


def test_file_errors_are_clean(tmp_path: Path) -> None:
    """A missing file, a directory-less path, non-UTF-8 bytes and both sources at once are refused."""
    assert_clean_error(
        run_cli("kernel", "--file", str(tmp_path / "nope.json")), "--file", "nope.json"
    )
    binary = tmp_path / "k.bin"
    binary.write_bytes(b"\xff\xfe[[1]]")
    assert_clean_error(run_cli("kernel", "--file", str(binary)), "--file", "UTF-8")
    good = tmp_path / "k.json"
    good.write_text("[[1]]", encoding="utf-8")
    assert_clean_error(run_cli("kernel", "[[1]]", "--file", str(good)), "--file", "not both")
    assert_clean_error(run_cli("kernel"), "kernel", "missing")


def test_oversized_text_is_refused_before_parsing() -> None:
    """Text beyond the stated limit is refused without being parsed."""
    with pytest.raises(DscCalcError, match="longer than"):
        parse_kernel(" " * (MAX_TEXT + 1))


def test_cli_reads_no_more_than_the_core_accepts() -> None:
    """The CLI's read limit for files and stdin is the core's text limit."""
    assert CLIREAD_LIMIT == MAX_TEXT


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    """A file longer than the text limit is refused with the limit named, not parsed."""
    path = tmp_path / "big.json"
    path.write_text("[" + "1," * MAX_TEXT + "1]", encoding="utf-8")
    assert_clean_error(run_cli("kernel", "--file", str(path)), "kernel", "limit")


def test_singular_values_below_the_tolerance_show_as_zero_in_tables() -> None:
    """Tables print singular values under the tolerance as ≈0 (rounding noise); JSON keeps them."""
    outcome = run_cli("kernel", "[[-1,0,1],[-2,0,2],[-1,0,1]]", "-f", "csv")
    assert 'singular values,"[3.4641, ≈0, ≈0]"' in outcome.stdout  # σ₁ = ‖K‖_F = √12
    doc = run_cli("kernel", "[[-1,0,1],[-2,0,2],[-1,0,1]]", "--json").json()
    assert doc["singular_values"][0] == pytest.approx(12**0.5)
    assert all(s <= doc["tolerance"] for s in doc["singular_values"][1:])


@pytest.mark.parametrize("exponent", [-400, -330, -200, 0, 100, 150])
def test_rank_is_scale_free(exponent: int) -> None:
    """An exact outer product scaled by 10**e is rank 1 and a rank-2 kernel rank 2, at any e.

    Entries such as 1e-400 underflow float64; the rank must not depend on the scale.
    """
    scale = Fraction(10) ** exponent
    rank_one = [[scale * x for x in row] for row in outer([1, 3], [1, 2])]
    rank_two = [[scale, 2 * scale], [3 * scale, 7 * scale]]  # det = scale² ≠ 0
    one = analyse(rank_one)
    assert one.rank == 1
    assert one.factors.exact
    assert one.factors.scale == scale
    assert (one.factors.a, one.factors.b) == ((1, 3), (1, 2))
    two = analyse(rank_two)
    assert two.rank == 2
    # σ₂/σ₁ of [[1,2],[3,7]] from the 2x2 closed form: σ₁σ₂ = |det| = 1, σ₁² + σ₂² = ‖K‖² = 63
    s1 = ((63 + (63**2 - 4) ** 0.5) / 2) ** 0.5
    assert two.relative_singular_values[1] == pytest.approx(1 / s1**2, rel=1e-9)


def test_tiny_kernel_through_the_cli_is_not_the_zero_kernel() -> None:
    """`kernel '[[1e-400, 2e-400],[3e-400, 6e-400]]'` is rank 1 (issue 13), in tables and JSON."""
    text = "[[1e-400, 2e-400],[3e-400, 6e-400]]"
    doc = run_cli("kernel", text, "--json").json()
    assert doc["rank"] == 1
    assert doc["separable"] is True
    assert doc["factors"]["scale_exact"] == "1/1" + "0" * 400
    assert doc["relative_singular_values"][0] == 1.0
    table = run_cli("kernel", text, "-f", "csv").stdout
    assert "rank,1: separable" in table
    assert "zero kernel" not in table


def test_zero_kernel_stays_rank_zero_with_any_tolerance() -> None:
    assert analyse(parse_kernel("[[0, 0], [0, 0]]"), rtol=0.0).rank == 0


def float32_outer(a: list[float], b: list[float]) -> list[list[float]]:
    """The outer product a · bᵀ rounded to float32, as JSON shows float32 weights."""
    import numpy as np

    rounded = np.outer(np.array(a), np.array(b)).astype(np.float32)
    return [[float(x) for x in row] for row in rounded]


float32_entries = st.floats(1e-3, 1e3).flatmap(lambda m: st.sampled_from([m, -m]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(float32_entries, min_size=2, max_size=7),
    st.lists(float32_entries, min_size=2, max_size=7),
)
def test_float32_outer_products_are_rank_one_within_float32_precision(
    a: list[float], b: list[float]
) -> None:
    """a · bᵀ rounded to float32 has σ₂/σ₁ ≤ ‖E‖_F/‖K‖_F ≤ eps32/2 (each entry moves at most
    half an ulp, relative), under the float32 tolerance max(kh, kw)·eps32: rank 1 at float32."""
    kernel = float32_outer(a, b)
    report = analyse(validate_kernel(kernel))
    eps32 = 2.0**-23
    assert report.rank_float32 == 1
    assert all(r <= eps32 for r in report.relative_singular_values[1:])
    assert report.float32_rank_one == (report.rank > 1)
    tol = max(len(a), len(b)) * eps32
    assert analyse(validate_kernel(kernel), rtol=tol).rank == 1


def test_float32_kernel_through_the_cli_says_so_and_tol_makes_it_rank_one() -> None:
    """A 5x5 float32 outer product: rank 5 at float64's tolerance, with the float32 note."""
    a = [0.3, -1.7, 0.25, 2.9, -0.61]
    b = [1.1, 0.37, -2.3, 0.05, 0.77]
    kernel = json.dumps(float32_outer(a, b))
    report = analyse_text(kernel)
    assert report.rank > 1  # float32 rounding is far above float64's tolerance
    table = run_cli("kernel", kernel, "-f", "markdown").stdout
    assert "rank 1 within float32 precision" in table
    assert "Rank 1 within float32 precision" in table
    doc = run_cli("kernel", kernel, "--tol", "1e-6", "--json").json()
    assert doc["rank"] == 1
    assert doc["separable"] is True
    assert doc["rtol"] == 1e-6
    assert doc["tolerance_rule"] == "rtol * sigma_max"
    assert doc["tolerance"] == pytest.approx(1e-6 * doc["singular_values"][0])
    plain = run_cli("kernel", kernel, "--tol", "1e-6", "-f", "csv").stdout
    assert "float32 precision" not in plain  # rank 1 already: nothing to add


@pytest.mark.parametrize("tol", ["-1e-3", "1", "2", "nan", "inf"])
def test_tol_outside_zero_to_one_is_a_clean_error(tol: str) -> None:
    assert_clean_error(run_cli("kernel", "[[1,2],[3,4]]", "--tol", tol), "--tol", "0 <= RTOL < 1")


def test_tol_is_validated_in_the_core_too() -> None:
    with pytest.raises(DscCalcError, match=r"^rtol: must be a number"):
        analyse(parse_kernel("[1]"), rtol=True)  # a bool is an int, so a float to mypy
    with pytest.raises(DscCalcError, match=r"^rtol: must be a number"):
        analyse(parse_kernel("[1]"), rtol="1e-6")  # type: ignore[arg-type]


def test_tol_zero_counts_every_non_zero_singular_value() -> None:
    """[[1,0],[0,1e-12]]: σ₂/σ₁ = 1e-12 is noise at float32 but counts at --tol 0."""
    kernel = parse_kernel("[[1, 0], [0, 1e-12]]")
    assert analyse(kernel).rank == 2
    assert analyse(kernel).rank_float32 == 1
    assert analyse(kernel, rtol=0.0).rank == 2
    assert analyse(kernel, rtol=1e-9).rank == 1
