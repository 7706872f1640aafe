"""``dsc-calc sweep``: value-list syntax, cells equal to `layer`'s ratios, formats and every error."""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc.cost.conv import Conv2d, Shape, compare
from dsc_calc.cost.sweep import MAX_CELLS, parse_values, sweep
from dsc_calc.errors import DscCalcError
from dsc_calc.output.tables.sweep import heatmap


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32", [32]),
        ("8,16,32", [8, 16, 32]),
        ("32, 8 ,16,8", [8, 16, 32]),
        ("8-12", list(range(8, 13))),
        ("8..12", list(range(8, 13))),
        ("8..64+8", list(range(8, 65, 8))),
        ("8..60+8", list(range(8, 57, 8))),
        ("8..1024x2", [8 * 2**i for i in range(8)]),
        ("8..1000x2", [8 * 2**i for i in range(7)]),
        ("1..100x3", [1, 3, 9, 27, 81]),
        ("8,16,32,...,1024", [8 * 2**i for i in range(8)]),
        ("8,16,...,64", list(range(8, 65, 8))),
        ("3,5,...,11", [3, 5, 7, 9, 11]),
        ("1,3,9,…,243", [3**i for i in range(6)]),
        ("1,2,3,100..102", [1, 2, 3, 100, 101, 102]),
    ],
)
def test_value_list_syntax(text: str, expected: list[int]) -> None:
    """Lists, ranges with steps and factors, and continued progressions expand as documented."""
    assert list(parse_values(text, "x")) == expected


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["empty"]),
        ("a", ["'a'", "positive integer"]),
        ("3x3", ["'3x3'"]),
        ("0", ["1..", "got 0"]),
        ("-4", ["'-4'"]),
        ("12..3", ["backwards", "3..12"]),
        ("8..64+0", ["step", "at least 1"]),
        ("8..64x1", ["factor", "at least 2"]),
        ("1..20000", ["20000 values", str(MAX_CELLS)]),
        ("1,2,...,20000", ["20000 values"]),
        ("8,16,...,100", ["100 is not a term", "steps of 8"]),
        ("8,16,32,...,1000", ["1000 is not a term", "512 or 1024"]),
        ("8,...,64", ["two values before"]),
        ("8,16,...", ["exactly one after"]),
        ("8,16,...,32,...,64", ["exactly one after"]),
        ("8,12,32,...,64", ["neither"]),
        ("99999999999999", ["larger than"]),
        ("4294967296", ["1..2147483647"]),
    ],
)
def test_bad_value_lists_name_the_problem(text: str, fragments: list[str]) -> None:
    """Each malformed value list is refused with a message naming the option and the fix."""
    with pytest.raises(DscCalcError) as caught:
        parse_values(text, "--cout")
    message = str(caught.value)
    assert message.startswith("--cout: ")
    for fragment in fragments:
        assert fragment in message


def test_defaults_are_n_8_to_1024_doubling_and_dk_1_3_5_7() -> None:
    """Without options the grid is N = 8, 16, ..., 1024 by Dk = 1, 3, 5, 7."""
    doc = run_cli("sweep", "--json").json()
    assert doc["cout"] == [8 * 2**i for i in range(8)]
    assert doc["kernel"] == [1, 3, 5, 7]
    assert len(doc["cells"]) == 32


def test_seed_example_n100_dk512_is_reachable() -> None:
    """`sweep --cout 100 -k 512` gives R = 1/100 + 1/512² ≈ 0.010004."""
    outcome = run_cli("sweep", "--cout", "100", "-k", "512", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    (cell,) = outcome.json()["cells"]
    assert round(cell["ratio"]["macs"], 6) == 0.010004
    assert Fraction(cell["ratio"]["exact"]["macs"]) == Fraction(1, 100) + Fraction(1, 512**2)
    assert cell["saving"]["macs"] == pytest.approx(1 / (1 / 100 + 1 / 512**2))


@pytest.mark.parametrize(
    ("cin", "hw", "bias"),
    [
        ("32", "32", False),
        ("32", "32", True),
        ("3", "32", True),
        ("7", "9", False),
        ("64", "5", True),
    ],
)
def test_cells_equal_the_layer_commands_ratios(cin: str, hw: str, bias: bool) -> None:
    """Every cell's ratio block is exactly what `dsc-calc layer` prints for that layer."""
    flag = ("--bias",) if bias else ()
    extra = ("--cin", cin, "--hw", hw, *flag)
    doc = run_cli("sweep", "-N", "1,5,64", "-k", "1,2,3,7", *extra, "--json").json()
    for cell in doc["cells"]:
        layer = run_cli(
            "layer",
            "--cin",
            cin,
            "--hw",
            hw,
            "--cout",
            str(cell["cout"]),
            "-k",
            str(cell["kernel"]),
            *flag,
            "--json",
        ).json()
        assert cell["ratio"] == {key: layer["ratio"][key] for key in cell["ratio"]}
        assert set(cell["ratio"]) == {"params", "macs", "formula", "exact"}
        assert cell["saving"] == {key: layer["saving"][key] for key in ("params", "macs")}
        assert cell["standard"] == {k: layer["standard"][k] for k in ("params", "macs")}
        assert cell["separable"] == {k: layer["separable"][k] for k in ("params", "macs")}


@settings(max_examples=150, deadline=None)
@given(
    cout=st.integers(1, 4096),
    kernel=st.integers(1, 64),
    cin=st.integers(1, 512),
    hw=st.integers(1, 64),
    bias=st.booleans(),
)
def test_cells_follow_the_closed_forms(
    cout: int, kernel: int, cin: int, hw: int, bias: bool
) -> None:
    """MACs ratio = 1/N + 1/Dk²; params ratio the same without bias, else with the bias terms."""
    cell = sweep((cout,), (kernel,), cin=cin, hw=hw, bias=bias).cells[0]
    k2 = kernel * kernel
    assert cell.macs_ratio == Fraction(1, cout) + Fraction(1, k2)
    if bias:
        expected = Fraction(cin * k2 + cin + cin * cout + cout, cout * cin * k2 + cout)
    else:
        expected = Fraction(1, cout) + Fraction(1, k2)
    assert cell.params_ratio == expected
    layer = compare(Conv2d(cin, cout, kernel, padding="same", bias=bias), Shape(cin, hw, hw))
    assert (cell.params_ratio, cell.macs_ratio) == (layer.params_ratio, layer.macs_ratio)


def test_input_size_never_changes_a_ratio() -> None:
    """--hw scales the counts of every cell but leaves every ratio as it was."""
    small = run_cli("sweep", "-N", "8,100", "-k", "3,9", "--bias", "--hw", "1", "--json").json()
    large = run_cli("sweep", "-N", "8,100", "-k", "3,9", "--bias", "--hw", "37", "--json").json()
    for a, b in zip(small["cells"], large["cells"], strict=True):
        assert a["ratio"] == b["ratio"]
        assert b["standard"]["macs"] == a["standard"]["macs"] * 37 * 37


def test_csv_has_one_exact_row_per_cell() -> None:
    """CSV lists every (N, Dk) with exact fractions equal to 1/N + 1/Dk² (no bias)."""
    outcome = run_cli("sweep", "-N", "8..64x2", "-k", "1..7+2", "-f", "csv")
    assert outcome.exit_code == 0, outcome.stderr
    rows = list(csv.DictReader(io.StringIO(outcome.stdout)))
    assert [(int(r["N"]), int(r["Dk"])) for r in rows] == [
        (n, k) for n in (8, 16, 32, 64) for k in (1, 3, 5, 7)
    ]
    for row in rows:
        expected = Fraction(1, int(row["N"])) + Fraction(1, int(row["Dk"]) ** 2)
        assert Fraction(row["MACs exact"]) == Fraction(row["Params exact"]) == expected
        assert float(row["MACs ratio"]) == float(expected)


def test_table_is_a_grid_of_n_by_dk_without_colour_codes() -> None:
    """The Rich table has one row per N and a ratio / saving pair per Dk; NO_COLOR leaves no codes."""
    outcome = run_cli("sweep", "-N", "8,64", "-k", "1,3")
    assert outcome.exit_code == 0, outcome.stderr
    assert "\x1b[" not in outcome.stdout
    lines = outcome.stdout.splitlines()
    header = next(line for line in lines if "N \\ Dk" in line)
    assert header.split() == ["N", "\\", "Dk", "Dk=1", "×", "fewer", "Dk=3", "×", "fewer"]
    row_64 = next(line for line in lines if line.strip().startswith("64 "))
    assert row_64.split() == ["64", "1.016", "×0.985", "0.1267", "×7.89"]  # 65/64; 73/576


def test_heatmap_heat_grid_shades_cells_by_saving() -> None:
    """The heatmap's heat grid leaves the N column plain and gives a cell's pair one shade, 0..1."""
    table = heatmap(sweep((8, 1024), (1, 7)))
    assert table.heat is not None
    assert [row[0] for row in table.heat] == [None, None]
    assert all(row[1] == row[2] and row[3] == row[4] for row in table.heat)
    assert table.heat[0][1] == 0.0  # N = 8, Dk = 1: the smallest saving on the grid
    assert table.heat[1][3] == 1.0  # N = 1024, Dk = 7: the largest


def test_heatmap_shades_only_on_a_colour_terminal() -> None:
    """On a colour terminal the cells get backgrounds; the same table without colour has none."""
    import io

    from rich.console import Console

    from dsc_calc.output import render

    table = heatmap(sweep((8, 64), (1, 3)))
    coloured, plain = io.StringIO(), io.StringIO()
    original = render.make_console
    try:
        render.make_console = lambda file=None, **_: Console(
            file=file, force_terminal=True, color_system="truecolor", width=100
        )
        render.print_tables([table], coloured)
    finally:
        render.make_console = original
    render.print_tables([table], plain)
    assert "48;2;" in coloured.getvalue()  # a truecolor background
    assert "\x1b[" not in plain.getvalue()


def test_measure_params_shows_the_params_ratio() -> None:
    """--measure params puts the params ratio (with bias, different from MACs) in the heatmap."""
    outcome = run_cli(
        "sweep",
        "-N",
        "4",
        "-k",
        "3",
        "--bias",
        "--cin",
        "3",
        "--measure",
        "params",
        "-f",
        "markdown",
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "| 4 | 0.4107 | ×2.43 |" in outcome.stdout  # 46/112 from the seed layer


def test_output_file_holds_what_stdout_would(tmp_path: Path) -> None:
    """--output writes the same document that stdout would show."""
    path = tmp_path / "sweep.json"
    assert run_cli("sweep", "-N", "8", "--json", "-o", str(path)).stdout == ""
    assert path.read_text(encoding="utf-8") == run_cli("sweep", "-N", "8", "--json").stdout
    table = tmp_path / "sweep.txt"
    run_cli("sweep", "-N", "8", "-o", str(table))
    assert "Dk=7" in table.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--cout", "x"), ["--cout", "'x'"]),
        (("-k", "3x3"), ["--kernel", "'3x3'"]),
        (("-k", "0"), ["--kernel", "got 0"]),
        (("--cout", "1..20000"), ["--cout", "more than 10000"]),
        (("--cout", "1..200", "-k", "1..100"), ["--cout", "200 × 100 = 20000 cells"]),
        (("--cout", "8,16,32,...,1000"), ["--cout", "not a term"]),
        (("--cin", "0"), ["--cin", "positive"]),
        (("--hw", "0"), ["--hw", "positive"]),
        (("--cin", "4294967296"), ["--cin", "at most"]),
    ],
)
def test_every_bad_option_is_one_clean_error(args: tuple[str, ...], fragments: list[str]) -> None:
    """Bad lists, oversized grids and bad sizes give one `Error:` line naming the option."""
    assert_clean_error(run_cli("sweep", *args), *fragments)


def test_unknown_measure_is_a_usage_error() -> None:
    """A --measure outside macs/params is a usage error (exit 2)."""
    assert_clean_error(run_cli("sweep", "--measure", "flops"), "--measure", code=2)


def test_cli_defaults_are_the_core_defaults() -> None:
    """The command's defaults (kept literal for a fast import) equal the core's."""
    from dsc_calc.cli import sweep as command
    from dsc_calc.cost import sweep as core

    for name in ("DEFAULT_COUT", "DEFAULT_KERNEL", "DEFAULT_CIN", "DEFAULT_HW"):
        assert getattr(command, name) == getattr(core, name)
