"""Plain-data tables: what a result shows, with no idea of how it is drawn.

A result (``LayerComparison``, a network report, a benchmark) offers ``to_dict()`` for JSON; its
tables for everything else are built in :mod:`dsc_calc.output.tables`; :mod:`dsc_calc.output.render`
is the one place that draws them as a Rich table, CSV or Markdown. Cells hold raw values (exact
integers, floats); the column ``kind`` says how to show them.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

#: How a column's cells are shown. ``count``: an exact integer, in readable units (K, M, G) in
#: tables and Markdown, exact in CSV. ``integer``: always exact. ``ratio`` / ``number``: a float
#: to 4 significant digits. ``share``: a fraction 0..1 shown as a percentage (with a bar in Rich).
#: ``times``: a float shown as ``×7.9``. ``seconds``: a duration shown in s/ms/µs/ns. ``bytes``: a
#: byte count in B/KiB/MiB/GiB. ``text``: as is.
ColumnKind = Literal[
    "text", "count", "integer", "ratio", "number", "share", "times", "seconds", "bytes"
]

Cell = str | int | float | None


class Column(msgspec.Struct, frozen=True):
    """A column: its header and how its cells are shown. ``joined``: a table too wide for the
    terminal is split into parts of columns, never between this column and the one before it."""

    header: str
    kind: ColumnKind = "text"
    joined: bool = False


class Table(msgspec.Struct, frozen=True):
    """A titled table: rows of raw cells, an optional totals row, and notes shown beneath it.

    ``heat`` (optional) gives each body cell an intensity in 0..1, or None: the Rich table shades
    those cells from red (0) to green (1), as a heatmap; CSV and Markdown ignore it. ``csv`` says
    whether CSV may export this table (CSV exports the first that may), ``screen`` whether the
    Rich table and Markdown show it: a long per-cell listing can be for CSV only.
    """

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    footer: tuple[Cell, ...] | None = None
    notes: tuple[str, ...] = ()
    heat: tuple[tuple[float | None, ...], ...] | None = None
    csv: bool = True
    screen: bool = True


class Report(Protocol):
    """What every command's result offers the renderer: its JSON document. Its tables come from
    :func:`dsc_calc.output.tables.tables_of`."""

    def to_dict(self) -> dict[str, object]: ...
