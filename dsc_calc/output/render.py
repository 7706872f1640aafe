"""The one renderer: a report drawn as a Rich table, JSON, CSV or Markdown.

Rich is imported only when a table is drawn, so ``--json`` and ``--format csv`` start as fast as
Python itself. JSON is ``report.to_dict()`` and nothing else; CSV is the report's first (main) table
with exact values; Markdown and Rich show every table with its notes. :func:`layout` decides how
a table fits the terminal's width without cutting a figure or a name; ``plain`` makes every
format ASCII only.
"""

from __future__ import annotations

import json
import os
import re
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple, TextIO

import msgspec

from dsc_calc.output.tables import DEFAULT_VIEW, TableView, tables_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.box import Box
    from rich.console import Console

    from dsc_calc.output.tabular import Cell, ColumnKind, Report, Table


class Format(StrEnum):
    """The output formats every command offers."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


_COUNT_UNITS = (("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3))
_BYTE_UNITS = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))
_TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("\u00b5s", 1e-6), ("ns", 1e-9))


def format_count(value: int) -> str:
    """An exact count in readable units: ``108``, ``4.232M``, ``568.7M``, ``1.2G``."""
    for unit, scale in _COUNT_UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.4g}{unit}"
    return str(value)


def format_bytes(value: int) -> str:
    """A byte count in binary units: ``512 B``, ``1.5 KiB``, ``3.06 MiB``."""
    for unit, scale in _BYTE_UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value} B"


def format_seconds(value: float) -> str:
    """A duration in the largest unit that keeps it at or above 1: ``1.23 ms``."""
    for unit, scale in _TIME_UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def format_cell(value: Cell, kind: ColumnKind, *, exact: bool = False) -> str:
    """One cell as text; ``exact`` (CSV) keeps full precision and drops units."""
    if value is None:
        return ""
    if isinstance(value, str) or kind == "text":
        return str(value)
    if exact:
        return str(value) if isinstance(value, int) else repr(float(value))
    match kind:
        case "count":
            return format_count(int(value))
        case "bytes":
            return format_bytes(int(value))
        case "seconds":
            return format_seconds(float(value))
        case "share":
            return f"{100 * value:.2f}%"
        case "times":
            return f"\u00d7{value:.3g}"
        case "ratio" | "number":
            return f"{value:.4g}"
        case _:
            return str(value)


_EIGHTHS = " \u258f\u258e\u258d\u258c\u258b\u258a\u2589\u2588"


#: C0 and C1 control characters and DEL: a terminal would act on them (ESC starts an escape).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with every control character but tab and line feed shown as ``\\xNN``, so that a
    name from a spec cannot set a terminal's title or colours. JSON and CSV keep text exact."""
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub(lambda match: f"\\x{ord(match[0]):02x}", text)


def share_bar(fraction: float, width: int = 10) -> str:
    """A bar of ``width`` cells filled to ``fraction`` (0..1), in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "\u2588" * full + (_EIGHTHS[part] if part else "")
    return bar.ljust(width)


def render(
    report: Report,
    fmt: Format,
    file: TextIO | None = None,
    *,
    plain: bool = False,
    view: TableView = DEFAULT_VIEW,
) -> None:
    """Write ``report`` to ``file`` (standard output by default) in ``fmt``; ``plain`` keeps
    every character ASCII (``x`` for ×, ``->`` for →, no share bars; JSON escapes the rest).
    ``view`` says how the tables (CSV, Markdown, the terminal) show it; JSON is all of it."""
    out = file if file is not None else sys.stdout
    if fmt is Format.json:
        out.write(to_json(report, plain=plain))
    elif fmt is Format.csv:
        out.write(
            to_csv(next(table for table in tables_of(report, view) if table.csv), plain=plain)
        )
    elif fmt is Format.markdown:
        shown = [table for table in tables_of(report, view) if table.screen]
        out.write(to_markdown(shown, plain=plain))
    else:
        print_tables([table for table in tables_of(report, view) if table.screen], out, plain=plain)


#: The ASCII spelling of every non-ASCII sign dsc-calc prints, for ``--plain``.
_ASCII = str.maketrans(
    {
        "\u00d7": "x",  # ×
        "\u2192": "->",  # →
        "\u00b2": "^2",
        "\u00b3": "^3",
        "\u00b5": "u",  # µ (micro sign)
        "\u03bc": "u",  # μ
        "\u00b7": "*",  # ·
        "\u03c3": "s",  # σ
        "\u2080": "0",
        "\u2081": "1",
        "\u2082": "2",
        "\u1d40": "^T",
        "\u2248": "~",
        "\u2026": "...",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2264": "<=",
        "\u2265": ">=",
    }
)


def _for_people_ascii(text: str) -> str:
    """Text for a person's table under ``--plain``: control characters escaped, then ASCII."""
    return to_ascii(escape_controls(text))


def to_ascii(text: str) -> str:
    """``text`` in ASCII: dsc-calc's signs spelt out (``3x3 32->64``), any other character (a
    user's name) as a backslash escape."""
    return text.translate(_ASCII).encode("ascii", "backslashreplace").decode("ascii")


def to_json(report: Report, *, plain: bool = False) -> str:
    """The report's JSON document, indented by 2, exact integers, one trailing newline; ``plain``
    escapes every non-ASCII character (``\\u00d7``): the same document, in ASCII.

    The standard library's C encoder writes the compact text and msgspec indents it: the same
    bytes as ``json.dumps(indent=2)`` (a property test), whose pure-Python indenting is 5x slower
    at 120 kB (mobilenet_v2, 6 ms against 1.2 ms) and 20x at 38 MB (a 100k-layer network).
    """
    document = report.to_dict()
    compact = json.dumps(document, ensure_ascii=plain, allow_nan=False, separators=(",", ":"))
    return msgspec.json.format(compact.encode(), indent=2).decode() + "\n"


def to_csv(table: Table, *, plain: bool = False) -> str:
    """One table as CSV with exact values; the totals row, if any, comes last and its first cell
    is ``total`` (a script skips it by that rule)."""
    import csv
    import io

    text = to_ascii if plain else str
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([text(column.header) for column in table.columns])
    for row in table.rows:
        writer.writerow(
            [
                text(format_cell(cell, column.kind, exact=True))
                for cell, column in zip(row, table.columns, strict=True)
            ]
        )
    if table.footer is not None:
        writer.writerow(
            ["total"]
            + [
                text(format_cell(cell, column.kind, exact=True))
                for cell, column in zip(table.footer[1:], table.columns[1:], strict=True)
            ]
        )
    return buffer.getvalue()


def to_markdown(tables: list[Table], *, plain: bool = False) -> str:
    """Every table as a GitHub-flavoured Markdown table under a bold title, notes beneath."""
    text = to_ascii if plain else str
    blocks: list[str] = []
    for table in tables:
        lines = [f"**{_md_escape(text(table.title))}**", ""]
        lines.append("| " + " | ".join(_md_escape(text(c.header)) for c in table.columns) + " |")
        lines.append(
            "|" + "|".join(":--" if c.kind == "text" else "--:" for c in table.columns) + "|"
        )
        for index, row in enumerate(_all_rows(table)):
            cells = [
                _md_escape(text(format_cell(cell, col.kind)))
                for cell, col in zip(row, table.columns, strict=True)
            ]
            if table.footer is not None and index == len(table.rows):
                cells = [f"**{cell}**" if cell else cell for cell in cells]
            lines.append("| " + " | ".join(cells) + " |")
        lines.extend(
            ["", *(f"{escape_controls(text(note))}  " for note in table.notes)]
            if table.notes
            else []
        )
        blocks.append("\n".join(lines).rstrip())
    return "\n\n".join(blocks) + "\n"


def _md_escape(text: str) -> str:
    """``text`` kept on one line (a line break would end the table row) with ``|`` escaped."""
    return escape_controls(" ".join(text.splitlines())).replace("|", "\\|")


def _all_rows(table: Table) -> list[tuple[Cell, ...]]:
    return [*table.rows, table.footer] if table.footer is not None else list(table.rows)


def make_console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    """A Rich console on ``file``; colour follows the terminal, and a set ``NO_COLOR`` drops every
    colour and style (Rich alone would keep bold)."""
    from rich.console import Console

    plain = bool(os.environ.get("NO_COLOR"))
    return Console(
        file=file,
        stderr=stderr,
        highlight=False,
        soft_wrap=False,
        color_system=None if plain else "auto",
    )


def print_tables(
    tables: list[Table],
    file: TextIO | None = None,
    *,
    plain: bool = False,
    width: int | None = None,
) -> None:
    """Draw every table with Rich: numbers right-aligned, shares as bars, notes dimmed beneath.

    Every table fits the console's width (``width``, else the terminal's or ``$COLUMNS``)
    without cutting a figure or a name (:func:`layout`): text columns and headers wrap, then the
    spacing closes up, then share bars go, then the table is split into parts of columns, each
    led by the first column. Off a terminal, lines carry no trailing spaces.

    Cells with a ``heat`` value get a background from red (0) to green (1); colour is dropped as
    usual when the output is not a terminal or ``NO_COLOR`` is set. Every string goes in as a
    :class:`rich.text.Text`, never as markup: a layer named ``[/]`` or ``:smile:`` (user text
    from a spec) is printed as written.
    """
    console = make_console(file)
    if width is not None:  # else the terminal's, or $COLUMNS, or 80
        console.width = width
    if console.is_terminal:
        _draw(console, tables, plain)
        return
    with console.capture() as capture:
        _draw(console, tables, plain)
    console.file.write("".join(line.rstrip() + "\n" for line in capture.get().splitlines()))
    console.file.flush()


class Part(NamedTuple):
    """One drawn table of a :class:`Table`: which columns, how wide, with or without bars, and
    ``compact`` (two spaces between columns instead of three, none at the edges). A NamedTuple:
    a frozen dataclass would add 0.6 ms to every start, tables or not."""

    title: str
    columns: tuple[int, ...]
    widths: tuple[int, ...]
    bars: bool
    compact: bool = False


def table_width(widths: Sequence[int], *, compact: bool = False) -> int:
    """The width Rich draws a ``box.SIMPLE_HEAD`` table of columns this wide in: one space at
    each edge and between columns, and one space of padding each side of a cell; ``compact``:
    no edges, and padding only between columns."""
    if compact:
        return sum(widths) + 2 * max(0, len(widths) - 1)
    return sum(widths) + 3 * len(widths) + 1


def layout(table: Table, width: int, *, plain: bool = False) -> list[Part]:
    """How ``table`` fits ``width`` columns, never cutting a figure or a word short.

    Every column has a natural width (its widest line) and a minimum: a number column its widest
    figure (figures never wrap), a text column its longest word (names and descriptions wrap
    between words; a word wider than half the width folds). Header words count too. In order,
    the first that fits: the natural widths; columns narrowed towards their minimum (number
    columns first: their headers wrap, then text columns); the same with two spaces between
    columns; and without share bars; the table split into parts of whole columns, each led by
    the first column, with a :attr:`Column.joined` column kept beside the one before it.
    """
    everything = tuple(range(len(table.columns)))
    has_share = any(column.kind == "share" for column in table.columns)
    for bars, compact in (
        ((True, False), (True, True), (False, True))
        if has_share and not plain
        else ((False, False), (False, True))
    ):
        natural, minimum = _column_widths(table, width, bars=bars, plain=plain)
        widths = _fit(table, natural, minimum, everything, width, compact=compact)
        if widths is not None:
            return [Part(table.title, everything, widths, bars, compact)]
    groups: list[list[int]] = []
    for index in range(1, len(table.columns)):
        if groups and table.columns[index].joined:
            groups[-1].append(index)
        else:
            groups.append([index])
    natural, minimum = _column_widths(table, width, bars=False, plain=plain)
    groups = [piece for group in groups for piece in _pieces(group, minimum, width)]
    parts: list[list[int]] = []
    for group in groups:
        candidate = [*(parts[-1] if parts else []), *group]
        if parts and table_width([minimum[i] for i in candidate], compact=True) <= width:
            parts[-1] = candidate
        else:
            parts.append([0, *group])
    drawn: list[Part] = []
    for number, columns in enumerate(parts or [[0]], start=1):
        title = f"{table.title} (part {number} of {len(parts)})" if len(parts) > 1 else table.title
        fitted = _fit(table, natural, minimum, columns, width, compact=True)
        # A column too wide even beside the first alone: Rich folds it.
        widths = fitted if fitted is not None else tuple(minimum[i] for i in columns)
        drawn.append(Part(title, tuple(columns), widths, bars=False, compact=True))
    return drawn


def _pieces(group: list[int], minimum: Sequence[int], width: int) -> list[list[int]]:
    """``group`` as one piece if it fits beside the first column, else cut where it must be."""
    pieces: list[list[int]] = []
    for index in group:
        if (
            pieces
            and table_width(
                [minimum[0], *(minimum[i] for i in pieces[-1]), minimum[index]], compact=True
            )
            <= width
        ):
            pieces[-1].append(index)
        else:
            pieces.append([index])
    return pieces


def _fit(
    table: Table,
    natural: Sequence[int],
    minimum: Sequence[int],
    columns: Sequence[int],
    width: int,
    *,
    compact: bool,
) -> tuple[int, ...] | None:
    """Widths of ``columns`` within ``width``: natural, or narrowed one step at a time down to
    their minimum, the widest number column first, then the widest text column; None if even
    the minimums do not fit."""
    widths = [natural[i] for i in columns]
    floor = [minimum[i] for i in columns]
    if table_width(floor, compact=compact) > width:
        return None
    excess = table_width(widths, compact=compact) - width
    while excess > 0:
        widest = max(
            (position for position in range(len(widths)) if widths[position] > floor[position]),
            key=lambda position: (
                table.columns[columns[position]].kind != "text",
                widths[position],
            ),
        )
        widths[widest] -= 1
        excess -= 1
    return tuple(widths)


def _column_widths(
    table: Table, width: int, *, bars: bool, plain: bool
) -> tuple[list[int], list[int]]:
    """Each column's natural and minimum width (see :func:`layout`)."""
    from rich.cells import cell_len

    fold = max(8, width // 2 - 4)
    natural: list[int] = []
    minimum: list[int] = []
    for index, column in enumerate(table.columns):
        texts = [
            _screen_cell(row[index], column.kind, bars=bars, plain=plain)
            for row in _all_rows(table)
        ]
        header = to_ascii(column.header) if plain else column.header
        lines = [line for text in (header, *texts) for line in text.splitlines()]
        words = [word for line in lines for word in line.split()]
        widest_word = max((cell_len(word) for word in words), default=1)
        natural.append(max((cell_len(line) for line in lines), default=1))
        if column.kind == "text":
            minimum.append(min(widest_word, fold))
        else:
            figures = max((cell_len(text) for text in texts), default=1)
            minimum.append(max(figures, min(widest_word, fold)))
    return natural, minimum


def _draw(console: Console, tables: list[Table], plain: bool) -> None:
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table as RichTable
    from rich.text import Text

    text = _for_people_ascii if plain else escape_controls
    head = _ascii_head() if plain else box.SIMPLE_HEAD
    first = True
    for table in tables:
        parts = layout(table, console.width, plain=plain)
        for number, part in enumerate(parts):
            if not first and not number:  # a part ends in a blank line already
                console.print()
            first = False
            # The title above the table, not in it: a narrow part must not wrap it.
            console.print(Text(text(part.title), style="bold"))
            if part.compact:
                console.print()
            rich_table = RichTable(
                box=head,
                padding=(0, 1, 0, 0) if part.compact else (0, 1),
                show_edge=not part.compact,
                pad_edge=not part.compact,
                show_footer=table.footer is not None,
            )
            footer = table.footer if table.footer is not None else (None,) * len(table.columns)
            for index, width in zip(part.columns, part.widths, strict=True):
                column = table.columns[index]
                cell = _screen_cell(footer[index], column.kind, bars=part.bars, plain=plain)
                rich_table.add_column(
                    Text(text(column.header)),
                    justify="left" if column.kind == "text" else "right",
                    footer=Text(cell),
                    width=width,
                    overflow="fold",
                )
            for position, row in enumerate(table.rows):
                heats = table.heat[position] if table.heat is not None else None
                cells = []
                for index, width in zip(part.columns, part.widths, strict=True):
                    column = table.columns[index]
                    shown = _screen_cell(row[index], column.kind, bars=part.bars, plain=plain)
                    if heats is None or heats[index] is None:
                        cells.append(Text(shown))
                        continue
                    fill = " " * max(0, width - cell_len(shown))
                    padded = shown + fill if column.kind == "text" else fill + shown
                    cells.append(Text(padded, style=_heat_style(heats[index])))
                rich_table.add_row(*cells)
            console.print(rich_table)
            if part.compact:  # the blank lines a table's spaces edges would draw
                console.print()
        for note in table.notes:
            console.print(Text(text(note), style="dim"))


def _ascii_head() -> Box:
    from rich.box import Box

    return Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


#: Heatmap backgrounds run from this red (heat 0) to this green (heat 1).
_COLD, _HOT = (92, 26, 26), (22, 110, 52)


def _heat_style(heat: float | None) -> str:
    """A background for ``heat`` in 0..1 (clamped); no style for None."""
    if heat is None:
        return ""
    fraction = max(0.0, min(1.0, heat))
    red, green, blue = (round(c + (h - c) * fraction) for c, h in zip(_COLD, _HOT, strict=True))
    return f"bright_white on #{red:02x}{green:02x}{blue:02x}"


def _screen_cell(value: Cell, kind: ColumnKind, *, bars: bool, plain: bool) -> str:
    """A cell as the Rich table shows it: a share with its bar (if ``bars``), ASCII if ``plain``."""
    if kind == "share" and bars and isinstance(value, int | float):
        return f"{share_bar(float(value))} {format_cell(value, kind):>7}"
    shown = escape_controls(format_cell(value, kind))
    return to_ascii(shown) if plain else shown
