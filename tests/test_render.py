"""The one renderer: readable units, exact CSV, Markdown escaping, share bars."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsc_calc.output.render import (
    Format,
    format_bytes,
    format_cell,
    format_count,
    format_seconds,
    render,
    share_bar,
    to_csv,
    to_markdown,
)
from dsc_calc.output.tabular import Column, Table


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (999, "999"), (1000, "1K"), (18432, "18.43K"), (4_231_976, "4.232M"),
     (568_740_352, "568.7M"), (4_866_000_000, "4.866G"), (-2500, "-2.5K")],
)  # fmt: skip
def test_counts_in_readable_units(value: int, text: str) -> None:
    """Counts keep four significant digits with a K/M/G suffix."""
    assert format_count(value) == text


def test_bytes_and_seconds_units() -> None:
    """Bytes use binary units; durations pick the largest unit that keeps the value >= 1."""
    assert format_bytes(512) == "512 B"
    assert format_bytes(3 * 2**20 + 2**19) == "3.5 MiB"
    assert format_seconds(0.00123) == "1.23 ms"
    assert format_seconds(2.5) == "2.5 s"
    assert format_seconds(4e-10) == "0.4 ns"


def test_exact_cells_keep_full_precision() -> None:
    """CSV cells are exact: integers as digits, floats by repr, None as empty."""
    assert format_cell(568_740_352, "count", exact=True) == "568740352"
    assert format_cell(1 / 3, "ratio", exact=True) == repr(1 / 3)
    assert format_cell(None, "count") == ""
    assert format_cell(0.25, "share") == "25.00%"
    assert format_cell(7.888, "times") == "×7.89"


@pytest.mark.parametrize(
    ("fraction", "filled"), [(0.0, 0), (1.0, 80), (0.5, 40), (0.01, 1), (2.0, 80)]
)
def test_share_bar_fills_eighths(fraction: float, filled: int) -> None:
    """A bar of width 10 is filled to the nearest eighth of a cell and padded to its width."""
    bar = share_bar(fraction)
    assert len(bar) == 10
    eighths = {" ": 0, "█": 8, **{ch: i for i, ch in enumerate(" ▏▎▍▌▋▊▉", start=0) if ch != " "}}
    assert sum(eighths[ch] for ch in bar) == filled


TABLE = Table(
    title="T",
    columns=(Column("Name"), Column("MACs", "count"), Column("Share", "share")),
    rows=(("a|b", 1_500_000, 0.75), ("c", 500_000, 0.25)),
    footer=("total", 2_000_000, 1.0),
    notes=("a note",),
)


class _Report:
    def to_dict(self) -> dict[str, object]:
        return {"macs": 2_000_000}

    def tables(self) -> list[Table]:
        return [TABLE]


def test_csv_has_footer_last_and_exact_values() -> None:
    """CSV rows are the table rows then the totals row, with exact numbers."""
    rows = list(csv.reader(io.StringIO(to_csv(TABLE))))
    assert rows == [["Name", "MACs", "Share"], ["a|b", "1500000", "0.75"], ["c", "500000", "0.25"],
                    ["total", "2000000", "1.0"]]  # fmt: skip


def test_markdown_escapes_pipes_and_bolds_totals() -> None:
    """Markdown escapes | in cells, right-aligns numbers and bolds the totals row."""
    text = to_markdown([TABLE])
    assert "| a\\|b | 1.5M | 75.00% |" in text
    assert "|:--|--:|--:|" in text
    assert "| **total** | **2M** | **100.00%** |" in text
    assert "a note" in text


def test_render_json_is_the_dict_and_nothing_else() -> None:
    """JSON output is exactly to_dict() plus a newline."""
    out = io.StringIO()
    render(_Report(), Format.json, out)
    assert json.loads(out.getvalue()) == {"macs": 2_000_000}
    assert out.getvalue().endswith("}\n")


def test_render_table_draws_bars_and_notes() -> None:
    """The Rich table shows the share bar, the totals row and the notes."""
    out = io.StringIO()
    render(_Report(), Format.table, out)
    text = out.getvalue()
    assert "███████▌    75.00%" in text
    assert "total" in text
    assert "a note" in text


class _BigReport:
    """A report whose JSON is over the size where msgspec does the indenting."""

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": [
                {"name": f"conv{i}", "shape": "64×56×56", "macs": i * 10**9} for i in range(30_000)
            ]
        }

    def tables(self) -> list[Table]:
        return [TABLE]


def test_large_json_is_indented_the_same_way() -> None:
    """A large document is still indented JSON with the same content and non-ASCII kept."""
    from dsc_calc.output.render import to_json

    text = to_json(_BigReport())
    assert json.loads(text) == _BigReport().to_dict()
    assert text.startswith('{\n  "rows": [\n    {\n      "name": "conv0",')
    assert "64×56×56" in text
    assert text.endswith("}\n")


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@given(document=_JSON_VALUES, plain=st.booleans())
def test_both_indenters_write_the_same_bytes(document: object, plain: bool) -> None:
    """msgspec indents the C encoder's compact text exactly as ``json.dumps(indent=2)`` would, for
    any document (nesting, empty containers, floats, non-ASCII, with ``plain`` or without): the
    JSON is the standard library's, byte for byte."""
    import msgspec

    stdlib = json.dumps(document, indent=2, ensure_ascii=plain)
    compact = json.dumps(document, ensure_ascii=plain, separators=(",", ":"))
    assert msgspec.json.format(compact.encode(), indent=2).decode() == stdlib


def test_json_refuses_non_finite_numbers() -> None:
    """A NaN never reaches a script as invalid JSON: rendering refuses it."""
    from dsc_calc.output.render import to_json

    class _NaN(_Report):
        def to_dict(self) -> dict[str, object]:
            return {"ratio": float("nan")}

    with pytest.raises(ValueError, match="Out of range float values"):
        to_json(_NaN())
