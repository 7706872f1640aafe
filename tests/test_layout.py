"""Tables at 80 and 120 columns: every figure and name whole, nothing wider than the terminal;
goldens of every report, a property test over random tables, --plain, CSV totals, notes."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from conftest import CLI_ENV, Outcome
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dsc_calc.cli import app
from dsc_calc.output.render import (
    format_cell,
    layout,
    print_tables,
    table_width,
    to_ascii,
    to_csv,
    to_markdown,
)
from dsc_calc.output.tabular import Cell, Column, ColumnKind, Table

ELLIPSIS = "\u2026"


def run_at(width: int, *args: str) -> Outcome:
    """``dsc-calc ARGS`` in-process on a pipe of ``width`` columns, colour off."""
    env = {**CLI_ENV, "COLUMNS": str(width)}
    result = CliRunner().invoke(app, list(args), env=env)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.stdout, result.stderr, exception)


def assert_fits(text: str, width: int) -> None:
    """No line wider than ``width``, no cell cut with an ellipsis, no trailing spaces."""
    from rich.cells import cell_len

    for line in text.splitlines():
        assert cell_len(line) <= width, (width, line)
        assert line == line.rstrip(), repr(line)
    assert ELLIPSIS not in text


#: Every report the CLI draws, by golden name: layer with and without --memory/--profile, a
#: preset network with --what-if and with --memory --profile, sweep default and wide, kernel,
#: the presets listing.
REPORTS: dict[str, tuple[str, ...]] = {
    "layer": ("layer", "--cin", "32", "--cout", "64", "-k", "3", "--hw", "112"),
    "layer_memory": ("layer", "--cin", "32", "--cout", "64", "-k", "3", "--hw", "112", "--memory"),
    "layer_profile": (
        "layer", "--cin", "64", "--cout", "128", "-k", "3", "--hw", "56",
        "--profile", "example-desktop",
    ),
    "network_what_if": ("network", "mobilenet_v1", "--what-if", "standard", "--top", "8"),
    "network_memory_profile": (
        "network", "mobilenet_v1", "--memory", "--profile", "example-desktop", "--top", "8",
    ),
    "sweep": ("sweep",),
    "sweep_wide": ("sweep", "--cout", "8,16", "-k", "1-30"),
    "kernel": ("kernel", "[[-1,0,1],[-2,0,2],[-1,0,1]]"),
    "presets": ("presets",),
}  # fmt: skip


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_report_golden_fits_the_width(name: str, width: int, golden: Any) -> None:
    """Each report at 80 and 120 columns matches its golden, and fits: no figure cut, no line
    too wide, no trailing spaces."""
    outcome = run_at(width, *REPORTS[name])
    assert outcome.exit_code == 0, outcome.stderr
    assert_fits(outcome.stdout, width)
    golden(f"{name}_{width}.txt", outcome.stdout)


def test_every_figure_of_the_wide_sweep_is_shown_at_80() -> None:
    """`sweep --cout 8,16 -k 1-30` at 80 columns shows every Dk and both rows, split in parts."""
    text = run_at(80, "sweep", "--cout", "8,16", "-k", "1-30").stdout
    for kernel in range(1, 31):
        assert f"Dk={kernel} " in text or text.count(f"Dk={kernel}\n")
    assert "(part 1 of" in text
    parts = text.count("(part ")
    rows = [line.split()[0] for line in text.splitlines() if line.strip()[:2] in ("8 ", "16")]
    assert rows.count("8") == parts
    assert rows.count("16") == parts


def test_names_and_shapes_are_whole_at_80() -> None:
    """The network names and shapes the issue saw cut (`dsconv…`, `128×56×…`) are whole, and the
    what-if rows can be told apart."""
    text = run_at(80, "network", "mobilenet_v1", "--what-if", "standard").stdout
    assert "dsconv10.{dw,pw}" in text
    assert "dsconv14.{dw,pw}" in text
    assert "128×56×56" in text
    assert_fits(text, 80)


# --- Random tables ------------------------------------------------------------------------------

KINDS: tuple[ColumnKind, ...] = (
    "count", "integer", "ratio", "number", "share", "times", "seconds", "bytes", "text",
)  # fmt: skip
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._{},×→-", min_size=1, max_size=30)
TEXT = st.lists(WORD, min_size=1, max_size=6).map(" ".join)


def value_of(kind: ColumnKind) -> st.SearchStrategy[Cell]:
    """A cell of ``kind``: huge and tiny integers, floats over many magnitudes, words."""
    if kind == "text":
        return TEXT
    if kind in ("count", "integer", "bytes"):
        return st.integers(min_value=-(10**18), max_value=10**18)
    if kind == "share":
        return st.floats(min_value=0, max_value=1)
    return st.floats(min_value=1e-12, max_value=1e15)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    """A random table: up to 12 columns of any kind, headers of several words, a footer, notes."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=12))
    columns = tuple(
        Column(draw(TEXT), kind, joined=draw(st.booleans()) and index > 1)
        for index, kind in enumerate(kinds)
    )
    row = st.tuples(*(value_of(kind) for kind in kinds))
    rows = tuple(draw(st.lists(row, min_size=1, max_size=5)))
    footer = draw(st.none() | row)
    heat_cell = st.none() | st.floats(min_value=0, max_value=1)
    heat = draw(
        st.none()
        | st.lists(
            st.tuples(*(heat_cell for _ in kinds)), min_size=len(rows), max_size=len(rows)
        ).map(tuple)
    )
    return Table(
        title=draw(TEXT),
        columns=columns,
        rows=rows,
        footer=footer,
        notes=(draw(TEXT),),
        heat=heat,
    )


@settings(max_examples=150, deadline=None)
@given(table=tables(), plain=st.booleans())
def test_random_tables_fit_80_columns_and_show_every_figure(table: Table, plain: bool) -> None:
    """At 80 columns no line is wider than 80, no cell has an ellipsis, and every figure of every
    number column is printed whole on one line."""
    out = io.StringIO()
    print_tables([table], out, plain=plain, width=80)
    text = out.getvalue()
    assert_fits(text, 80)
    lines = text.splitlines()
    for row in (*table.rows, *((table.footer,) if table.footer is not None else ())):
        for cell, column in zip(row, table.columns, strict=True):
            if column.kind in ("text", "share") or cell is None:
                continue
            figure = format_cell(cell, column.kind)
            figure = to_ascii(figure) if plain else figure
            assert any(figure in line for line in lines), (figure, text)


@settings(max_examples=100, deadline=None)
@given(table=tables())
def test_layout_parts_cover_every_column_within_the_width(table: Table) -> None:
    """The parts of a table hold every column once (the first in each), each within 80."""
    parts = layout(table, 80)
    shown = [index for part in parts for index in part.columns[1:]]
    if len(table.columns) > 1:
        assert sorted(shown) == list(range(1, len(table.columns)))
    assert all(part.columns[0] == 0 for part in parts)
    for part in parts:
        fits = table_width(part.widths, compact=part.compact) <= 80
        assert fits or len(part.columns) <= 2


# --- Random command runs --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    cin=st.integers(1, 4096),
    cout=st.integers(1, 4096),
    kernel=st.integers(1, 11),
    hw=st.integers(11, 2048),
    memory=st.sampled_from([(), ("--memory",), ("--profile", "example-desktop")]),
)
def test_random_layer_reports_fit_80(
    cin: int, cout: int, kernel: int, hw: int, memory: tuple[str, ...]
) -> None:
    """`layer` of random shapes at 80 columns: every line fits, nothing cut."""
    outcome = run_at(
        80, "layer", "--cin", str(cin), "--cout", str(cout), "-k", str(kernel),
        "--hw", str(hw), *memory,
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.stderr
    assert_fits(outcome.stdout, 80)


@settings(max_examples=25, deadline=None)
@given(
    couts=st.lists(st.integers(1, 10**6), min_size=1, max_size=12, unique=True),
    kernels=st.lists(st.integers(1, 64), min_size=1, max_size=24, unique=True),
)
def test_random_sweeps_fit_80(couts: list[int], kernels: list[int]) -> None:
    """`sweep` of random grids at 80 columns: every line fits, every N shown."""
    outcome = run_at(
        80, "sweep", "--cout", ",".join(map(str, couts)), "-k", ",".join(map(str, kernels))
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert_fits(outcome.stdout, 80)
    for cout in couts:
        assert f" {cout} " in outcome.stdout or f"\n{cout} " in outcome.stdout


# --- --plain, CSV totals, notes -------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        REPORTS["layer_profile"],
        REPORTS["network_memory_profile"],
        ("network", "mobilenet_v1", "--what-if", "standard", "--top", "3", "-f", "markdown"),
        ("network", "mobilenet_v1", "--top", "3", "-f", "csv"),
        ("sweep", "-f", "csv"),
        ("kernel", "[[1,2],[2,4.5]]", "-f", "markdown"),
        ("kernel", "[[1,2],[2,4.5]]", "--json"),
        ("presets",),
    ],
)
def test_plain_output_is_ascii(args: tuple[str, ...]) -> None:
    """--plain prints ASCII only, in every format: x, ->, no bars; JSON escapes."""
    outcome = run_at(80, *args, "--plain")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout.isascii(), [c for c in outcome.stdout if not c.isascii()][:5]
    if "-f" not in args and "--json" not in args:
        assert_fits(outcome.stdout, 80)


def test_plain_spells_the_signs_out() -> None:
    """The ASCII forms are the ones the README documents."""
    assert to_ascii("3×3 32→64, 1.2 µs, σ₁·bᵀ ≈ 0") == "3x3 32->64, 1.2 us, s1*b^T ~ 0"
    assert to_ascii("名") == "\\u540d"
    text = run_at(100, "network", "mobilenet_v1", "--top", "2", "--plain").stdout
    assert "conv 3x3 3->32 s2" in text
    assert "\u2588" not in text
    assert "100.00%" in text


def test_csv_marks_the_total_row() -> None:
    """The network CSV has a header for every column, and ends with one totals row whose first
    cell is `total`; every other row is a layer."""
    outcome = run_at(80, "network", "mobilenet_v1", "-f", "csv")
    rows = list(csv.reader(io.StringIO(outcome.stdout)))
    header, *body = rows
    assert all(header)
    assert len(set(header)) == len(header)
    assert body[-1][0] == "total"
    assert [row[0] for row in body[:-1]].count("total") == 0
    assert len(body) - 1 == len(run_at(80, "network", "mobilenet_v1", "--json").json()["layers"])
    assert int(body[-1][4]) == sum(int(row[4]) for row in body[:-1])


def test_csv_totals_row_says_total_whatever_the_footer_says() -> None:
    """to_csv marks the totals row `total` even when the table's footer names it otherwise."""
    table = Table("T", (Column("Name"), Column("N", "integer")), (("a", 1),), ("network", 1))
    assert to_csv(table).splitlines()[-1] == "total,1"
    assert "| **network** | **1** |" in to_markdown([table])


def test_singular_row_and_replacement() -> None:
    """One row is `1 row` and one replacement `1 replacement`."""
    spec = (
        '{"name": "one", "input": {"channels": 4, "height": 8, "width": 8}, "layers": '
        '[{"type": "conv", "out": 8, "k": 3}]}'
    )
    result = CliRunner().invoke(
        app, ["network", "-", "--what-if", "separable"], input=spec, env=CLI_ENV
    )
    assert " 1 row " in result.stdout or result.stdout.count(" 1 row\n")
    assert "1 rows" not in result.stdout
    assert "(1 replacement)" in result.stdout


def test_top_note_only_when_top_was_given() -> None:
    """`(--top N)` appears only when the user passed --top; the terminal's own cap says what it
    is and how to get every row."""
    spec = (
        '{"name": "long", "input": {"channels": 4, "height": 8, "width": 8}, "layers": '
        '[{"repeat": 1200, "layers": [{"type": "relu"}]}]}'
    )
    capped = CliRunner().invoke(app, ["network", "-"], input=spec, env=CLI_ENV).stdout
    capped = " ".join(capped.split())
    assert "--top" not in capped
    assert "200 more rows not shown: a terminal table shows at most 1000 rows" in capped
    assert "--format csv or --json gives every row" in capped
    cut = CliRunner().invoke(app, ["network", "-", "--top", "7"], input=spec, env=CLI_ENV)
    assert "1193 more rows not shown (--top 7)." in cut.stdout
    everything = CliRunner().invoke(app, ["network", "-", "-f", "csv"], input=spec, env=CLI_ENV)
    assert len(everything.stdout.splitlines()) == 1 + 1200 + 1
