"""The tables of ``dsc-calc network``: layers (with MACs shares), by kind, the what-if, and with
``--memory`` each row's traffic, the network's memory and the standard vs separable design."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec.structs import replace

from dsc_calc.cost.conv import same_padding_note
from dsc_calc.memory.network import design_ratios
from dsc_calc.memory.traffic import dtype_bytes
from dsc_calc.output.render import format_seconds
from dsc_calc.output.tables.shared import (
    COST_COLUMNS,
    ROOFLINE_COLUMNS,
    cost_cells,
    peak_dtype_notes,
    roofline_cells,
    traffic_cells,
)
from dsc_calc.output.tabular import Cell, Column, Table

if TYPE_CHECKING:
    from dsc_calc.memory.network import (
        DesignComparison,
        NetworkMemory,
        NetworkMemoryReport,
        RowMemory,
    )
    from dsc_calc.memory.traffic import Roofline, Traffic
    from dsc_calc.network.report import LayerRow, NetworkReport, WhatIfReport
    from dsc_calc.onnx.model import ImportedReport
    from dsc_calc.output.tables import TableView


def shown_rows(report: NetworkReport, view: TableView) -> list[LayerRow]:
    """The rows the layer table shows: sorted as ``view.sort`` says, cut to ``view.top`` rows or
    to ``view.cap`` (a terminal table's own limit), whichever is fewer."""
    rows = list(report.rows)
    if view.sort == "macs":
        rows.sort(key=lambda row: row.cost.macs, reverse=True)
    elif view.sort == "params":
        rows.sort(key=lambda row: row.cost.params, reverse=True)
    limits = [limit for limit in (view.top, view.cap) if limit is not None]
    return rows[: min(limits)] if limits else rows


def network_tables(report: NetworkReport, view: TableView) -> list[Table]:
    """The layer table (with MACs shares), the by-kind table and any what-if table."""
    total = report.totals.macs
    shown = shown_rows(report, view)
    hidden = len(report.rows) - len(shown)
    layer_table = Table(
        title=f"{report.name}: {report.input} \u2192 {report.output}"
        + (f" (batch {report.batch})" if report.batch != 1 else ""),
        columns=(
            Column("Layer"),
            Column("Type"),
            Column("Output"),
            *COST_COLUMNS,
            Column("MACs share", "share"),
        ),
        rows=tuple(
            (
                row.name,
                row.describe(),
                str(row.output),
                *cost_cells(row.cost),
                row.cost.macs / total if total else 0.0,
            )
            for row in shown
        ),
        footer=(
            "total",
            plural(len(report.rows), "row"),
            str(report.output),
            *cost_cells(report.totals),
            1.0 if total else 0.0,
        ),
        notes=(
            *((_hidden_note(view, hidden),) if hidden else ()),
            *((f"Source: {report.source}",) if report.source else ()),
            *same_padding_note(row.conv for row in report.rows),
        ),
    )
    kind_table = Table(
        title="By kind (as in the MobileNet paper's Table 2)",
        columns=(
            Column("Kind"),
            Column("Rows", "integer"),
            Column("Params", "count"),
            Column("Params share", "share"),
            Column("MACs", "count"),
            Column("MACs share", "share"),
        ),
        rows=tuple(
            (
                kind,
                value.count,
                value.cost.params,
                value.cost.params / report.totals.params if report.totals.params else 0.0,
                value.cost.macs,
                value.cost.macs / total if total else 0.0,
            )
            for kind, value in report.by_type.items()
        ),
        notes=(
            "MACs: multiply-accumulates of the weights, bias excluded (mult-adds). Params "
            "include bias and batch norm (2 per channel). FLOPs: 2 \u00d7 MACs + one add per "
            "output with a bias.",
        ),
    )
    tables = [layer_table, kind_table]
    if report.what_if is not None:
        tables.append(_what_if_table(report.what_if))
    return tables


def plural(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``: the count and its noun, singular for exactly one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _hidden_note(view: TableView, hidden: int) -> str:
    """Why rows are missing: the user's --top, or the terminal table's own limit."""
    rows = plural(hidden, "more row")
    if view.top is not None and (view.cap is None or view.top <= view.cap):
        return f"{rows} not shown (--top {view.top})."
    return (
        f"{rows} not shown: a terminal table shows at most {view.cap} rows; --format csv "
        "or --json gives every row."
    )


def _what_if_table(what_if: WhatIfReport) -> Table:
    """One row per replacement (what it becomes, its params and MACs before and after); the
    original layer is in the main table, and JSON has every figure."""

    def ratio(old: int, new: int) -> float | None:
        return old / new if new else None

    return Table(
        title=f"What if: {what_if.mode} ({plural(len(what_if.changes), 'replacement')})",
        columns=(
            Column("Layers"),
            Column("Replaced by"),
            Column("Params after", "count"),
            Column("MACs before", "count"),
            Column("MACs after", "count"),
            Column("MACs saving", "times"),
        ),
        rows=tuple(
            (
                _layers_label(change.layers),
                change.after,
                change.new.params,
                change.old.macs,
                change.new.macs,
                ratio(change.old.macs, change.new.macs),
            )
            for change in what_if.changes
        ),
        footer=(
            "network",
            f"params before: {what_if.before.params:,}",
            what_if.after.params,
            what_if.before.macs,
            what_if.after.macs,
            ratio(what_if.before.macs, what_if.after.macs),
        ),
    )


def _layers_label(names: tuple[str, ...]) -> str:
    """``dsconv2.{dw,pw}`` for parts of one block, else the names joined by ``+``."""
    prefixes = {name.rpartition(".")[0] for name in names}
    if len(names) > 1 and len(prefixes) == 1 and "" not in prefixes:
        (prefix,) = prefixes
        return f"{prefix}.{{{','.join(name.rpartition('.')[2] for name in names)}}}"
    return " + ".join(names)


def network_memory_tables(report: NetworkMemoryReport, view: TableView) -> list[Table]:
    """The network's tables; with ``view.memory``, per-row memory, a summary and the designs.

    CSV exports one table: with ``view.memory``, the layer table with the memory columns
    appended (a CSV-only table, too wide for a terminal).
    """
    from dsc_calc.output.tables import tables_of  # a report type may add to its tables

    base = tables_of(report.report, view)
    if not view.memory:
        return base
    layer_table, *rest = base
    shown = _shown_memory(report, view)
    tables = [
        _csv_table(report, layer_table, shown),
        replace(layer_table, csv=False),
        *rest,
        _row_table(report, shown),
        _summary_table(report),
    ]
    if report.comparison is not None:
        tables.append(_comparison_table(report.comparison))
    return tables


def _shown_memory(report: NetworkMemoryReport, view: TableView) -> list[RowMemory]:
    """The memory of the rows the layer table shows, in its order."""
    index = {id(row): position for position, row in enumerate(report.report.rows)}
    return [report.memory.rows[index[id(row)]] for row in shown_rows(report.report, view)]


def _row_table(report: NetworkMemoryReport, shown: list[RowMemory]) -> Table:
    with_time = report.profile is not None
    columns = [
        Column("Layer"),
        Column("Weights", "bytes"),
        Column("In+out", "bytes"),
        Column("Moved", "bytes"),
        Column("Live", "bytes"),
        Column("FLOP/B", "number"),
    ]
    if with_time:
        columns += ROOFLINE_COLUMNS
    memory = report.memory
    hidden = len(memory.rows) - len(shown)
    notes = [
        f"{memory.dtype} ({dtype_bytes(memory.dtype)} B per element), batch {memory.batch}. "
        "Each row reads its weights and input once and writes its output once (ShuffleNetV2's "
        "memory access cost); In+out = input + output activations. Live = input + output + "
        "activations held for a residual add; the total row shows the peak. "
        "FLOP/B = FLOPs / bytes moved.",
        *((f"{plural(hidden, 'more row')} not shown.",) if hidden else ()),
    ]
    if report.profile is not None:
        profile = report.profile
        notes.append(
            f"Time = max(FLOPs / {profile.peak_gflops:g} GFLOP/s, bytes / "
            f"{profile.bandwidth_gbs:g} GB/s) per row, rows added up; below "
            f"{profile.ridge_intensity:.3g} FLOP/B a row is memory-bound. Profile: "
            f"{profile.name}."
        )
        notes += peak_dtype_notes(profile, memory.dtype)
    title = "Memory traffic per row" + (" and roofline time" if with_time else "")
    return Table(
        title=title,
        columns=tuple(columns),
        rows=tuple((row.name, *_row_cells(row, split=False)) for row in shown),
        footer=("total", *_total_cells(memory, split=False)),
        notes=tuple(notes),
        csv=False,
    )


def _summary_table(report: NetworkMemoryReport) -> Table:
    memory = report.memory
    traffic = memory.traffic
    rows: list[tuple[Cell, ...]] = [
        ("weight memory", memory.weights_bytes, "every parameter once"),
        (
            "peak activation memory",
            memory.peak_activation_bytes,
            f"at {memory.peak_row}" if memory.peak_row is not None else "",
        ),
        ("weights read", traffic.weights_bytes, ""),
        ("activations read", traffic.input_bytes, ""),
        ("activations written", traffic.output_bytes, ""),
        ("total traffic", traffic.access_cost, f"{memory.intensity:.3g} FLOP/B"),
    ]
    latency = memory.latency
    if latency is not None:
        shares = memory.bound_shares()
        rows.append(
            (
                "predicted latency",
                format_seconds(latency.time_s),
                f"{shares['memory']:.0%} of it in memory-bound rows",
            )
        )
    return Table(
        title=f"Memory ({memory.dtype}, batch {memory.batch})",
        columns=(Column("Quantity"), Column("Value", "bytes"), Column("Note")),
        rows=tuple(rows),
        notes=(
            "Peak activation memory: the largest over the rows of input + output + "
            "activations a residual block keeps alive for its add (no buffer reuse beyond "
            "that, no fusion).",
        ),
        csv=False,
    )


def _csv_table(report: NetworkMemoryReport, layer_table: Table, shown: list[RowMemory]) -> Table:
    """The layer table with every memory figure appended: what CSV exports."""
    columns = [
        *layer_table.columns,
        Column("Weights bytes", "integer"),
        Column("Input bytes", "integer"),
        Column("Output bytes", "integer"),
        Column("Access cost", "integer"),
        Column("Live bytes", "integer"),
        Column("FLOP/B", "number"),
    ]
    with_time = report.profile is not None
    if with_time:
        columns += [Column("Time s", "number"), Column("Bound")]
    rows = tuple(
        (*cells, *_row_cells(row, split=True))
        for cells, row in zip(layer_table.rows, shown, strict=True)
    )
    footer = None
    if layer_table.footer is not None:
        footer = (*layer_table.footer, *_total_cells(report.memory, split=True))
    return replace(layer_table, columns=tuple(columns), rows=rows, footer=footer, screen=False)


def _row_cells(row: RowMemory, *, split: bool) -> list[Cell]:
    """A row's memory figures, as the memory table (or, with ``split``, CSV) shows them."""
    kernel = row.kernel
    return _memory_cells(
        kernel.traffic, row.live_bytes, kernel.intensity, kernel.roofline, split=split
    )


def _total_cells(memory: NetworkMemory, *, split: bool) -> list[Cell]:
    """The network's memory figures under the rows': the peak is the live column's total."""
    return _memory_cells(
        memory.traffic, memory.peak_activation_bytes, memory.intensity, memory.latency, split=split
    )


def _memory_cells(
    traffic: Traffic, live: int, intensity: float, roofline: Roofline | None, *, split: bool
) -> list[Cell]:
    """Bytes by kind and moved, live bytes, FLOP/B, and the roofline time and bound if any."""
    return [*traffic_cells(traffic, split=split), live, intensity, *roofline_cells(roofline)]


def _comparison_table(comparison: DesignComparison) -> Table:
    """Standard vs separable: MACs, bytes moved and predicted latency, and their ratios."""
    rows: list[tuple[Cell, ...]] = []
    for design in ("standard", "separable"):
        memory: NetworkMemory = getattr(comparison, design)
        latency = memory.latency
        label = design + (" (this network)" if design == comparison.this_design else "")
        rows.append(
            (
                label,
                memory.macs,
                memory.traffic.access_cost,
                None if latency is None else latency.time_s,
                "" if latency is None else latency.bound,
            )
        )
    ratios = design_ratios(comparison.standard, comparison.separable)
    notes = [
        f"The other design is this network's --what-if {comparison.mode} "
        f"({plural(comparison.changes, 'replacement')}).",
    ]
    macs, time = ratios["macs"], ratios["time"]
    if not comparison.changes:
        notes[0] = (
            f"Nothing for --what-if {comparison.mode} to replace: both designs are this network."
        )
    elif macs and time:
        saving, speedup = 1 / macs, 1 / time
        separable_share = comparison.separable.bound_shares()["memory"]
        verdict = "but is predicted only" if speedup < saving else "and is predicted"
        notes.append(
            f"The separable design does {saving:.3g}\u00d7 fewer MACs {verdict} "
            f"{speedup:.3g}\u00d7 faster: it still moves {ratios['access_cost']:.2g}\u00d7 "
            f"the standard design's bytes, and {separable_share:.0%} of its predicted time is "
            "in memory-bound rows, where bandwidth, not MACs, sets the time."
        )
    return Table(
        title="Standard vs depthwise separable design (roofline)",
        columns=(
            Column("Design"),
            Column("MACs", "count"),
            Column("Moved", "bytes"),
            Column("Latency", "seconds"),
            Column("Bound"),
        ),
        rows=tuple(rows),
        footer=(
            "separable / standard",
            f"{macs:.3g}" if macs is not None else "",
            f"{ratios['access_cost']:.3g}" if ratios["access_cost"] is not None else "",
            f"{time:.3g}" if time is not None else "",
            "",
        ),
        notes=tuple(notes),
        csv=False,
    )


def imported_tables(report: ImportedReport, view: TableView) -> list[Table]:
    """An imported model's network tables, with the import's notes under the layer table."""
    layers, *rest = network_tables(report, view)
    return [replace(layers, notes=(*layers.notes, *report.notes)), *rest]
