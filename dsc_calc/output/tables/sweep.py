"""The tables of ``dsc-calc sweep``: the heatmap people read and the per-cell table CSV gives."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dsc_calc.output.tables.shared import ratio_cells
from dsc_calc.output.tabular import Column, Table

if TYPE_CHECKING:
    from dsc_calc.cost.sweep import SweepReport
    from dsc_calc.output.tables import TableView


def heatmap(report: SweepReport) -> Table:
    """Rows N, a (ratio, saving) pair of columns per Dk, for the chosen measure."""
    columns = [Column("N \\ Dk", "integer")]
    for kernel in report.kernels:
        columns += [Column(f"Dk={kernel}", "ratio"), Column("\u00d7 fewer", "times", joined=True)]
    rows: list[tuple[int | float, ...]] = []
    heat_rows: list[tuple[float | None, ...]] = []
    span = saving_span(report)
    for row, cout in enumerate(report.couts):
        cells: list[int | float] = [cout]
        heats: list[float | None] = [None]
        for cell in report.cells[row * len(report.kernels) : (row + 1) * len(report.kernels)]:
            ratio = cell.ratio(report.measure)
            cells += [float(ratio), float(1 / ratio)]
            heats += [heat(float(1 / ratio), span)] * 2
        rows.append(tuple(cells))
        heat_rows.append(tuple(heats))
    label = "MACs" if report.measure == "macs" else "params"
    return Table(
        title=f"Separable / standard {label}",
        columns=tuple(columns),
        rows=tuple(rows),
        notes=report.notes,
        heat=tuple(heat_rows),
        csv=False,
    )


def cell_table(report: SweepReport) -> Table:
    """One row per cell with exact fractions: the table CSV gives."""
    columns = (
        Column("N", "integer"),
        Column("Dk", "integer"),
        Column("Params ratio", "ratio"),
        Column("Params exact"),
        Column("Params \u00d7 fewer", "times"),
        Column("MACs ratio", "ratio"),
        Column("MACs exact"),
        Column("MACs \u00d7 fewer", "times"),
    )
    rows = tuple(
        (cell.cout, cell.kernel, *ratio_cells(cell.params_ratio), *ratio_cells(cell.macs_ratio))
        for cell in report.cells
    )
    return Table(title="Every cell, exact", columns=columns, rows=rows, screen=False)


def sweep_tables(report: SweepReport, _view: TableView) -> list[Table]:
    """The per-cell table (what CSV exports), then the heatmap grid (what the screen shows)."""
    return [cell_table(report), heatmap(report)]


def saving_span(report: SweepReport) -> tuple[float, float]:
    """The smallest and largest saving (1 / ratio) of the chosen measure over the grid."""
    savings = [float(1 / cell.ratio(report.measure)) for cell in report.cells]
    return min(savings), max(savings)


def heat(saving: float, span: tuple[float, float]) -> float:
    """Where ``saving`` lies in ``span`` on a log scale, 0..1 (0.5 when the span is one value)."""
    low, high = span
    if high <= low:
        return 0.5
    return (math.log(saving) - math.log(low)) / (math.log(high) - math.log(low))
